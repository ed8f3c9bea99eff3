/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vmemmap_od

#if !defined(_TRACE_VMEMMAP_OD_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_VMEMMAP_OD_H

#include <linux/tracepoint.h>

/**
 * vmemmap_od_fault - a vmemmap page was populated
 * @pfn: first pfn whose struct page the new vmemmap page holds
 * @nr_pages: number of struct pages it holds
 * @duration_ns: time to initialise and map it: from the fault hook's
 *	entry, or, in vmemmap_od_populate(), from after its allocation
 * @table_ns: of which getting, clearing and installing a PTE table (0:
 *	there was one when the fault came)
 * @init_ns: of which the struct pages' initialisation, the saved DAX
 *	state included; the rest is the install and its accounting
 * @atomic: populated by the fault handler, from the reserve; else by
 *	vmemmap_od_populate() in sleepable context
 */
TRACE_EVENT(vmemmap_od_fault,

	TP_PROTO(unsigned long pfn, unsigned long nr_pages, u64 duration_ns,
		 u64 table_ns, u64 init_ns, bool atomic),

	TP_ARGS(pfn, nr_pages, duration_ns, table_ns, init_ns, atomic),

	TP_STRUCT__entry(
		__field(unsigned long, pfn)
		__field(unsigned long, nr_pages)
		__field(u64, duration_ns)
		__field(u64, table_ns)
		__field(u64, init_ns)
		__field(bool, atomic)
	),

	TP_fast_assign(
		__entry->pfn = pfn;
		__entry->nr_pages = nr_pages;
		__entry->duration_ns = duration_ns;
		__entry->table_ns = table_ns;
		__entry->init_ns = init_ns;
		__entry->atomic = atomic;
	),

	TP_printk("pfn=0x%lx nr_pages=%lu duration_ns=%llu table_ns=%llu init_ns=%llu atomic=%d",
		  __entry->pfn, __entry->nr_pages, __entry->duration_ns,
		  __entry->table_ns, __entry->init_ns, __entry->atomic)
);

/**
 * vmemmap_od_reclaim - a batch of vmemmap pages was reclaimed
 * @nr_pages: vmemmap pages freed
 * @nr_tables: PTE tables unhooked (freed after the next grace period)
 * @nr_put_back: parked pages and tables the reclaimer put back after the
 *	flush: written through a stale TLB entry, or not freeable any more
 * @duration_ns: time for the batch, its one TLB shootdown included
 * @flush_ns: time for that shootdown alone
 * @full: the shootdown flushed every CPU's whole TLB (else page by page)
 */
TRACE_EVENT(vmemmap_od_reclaim,

	TP_PROTO(unsigned int nr_pages, unsigned int nr_tables,
		 unsigned int nr_put_back, u64 duration_ns, u64 flush_ns,
		 bool full),

	TP_ARGS(nr_pages, nr_tables, nr_put_back, duration_ns, flush_ns, full),

	TP_STRUCT__entry(
		__field(unsigned int, nr_pages)
		__field(unsigned int, nr_tables)
		__field(unsigned int, nr_put_back)
		__field(u64, duration_ns)
		__field(u64, flush_ns)
		__field(bool, full)
	),

	TP_fast_assign(
		__entry->nr_pages = nr_pages;
		__entry->nr_tables = nr_tables;
		__entry->nr_put_back = nr_put_back;
		__entry->duration_ns = duration_ns;
		__entry->flush_ns = flush_ns;
		__entry->full = full;
	),

	TP_printk("nr_pages=%u nr_tables=%u nr_put_back=%u duration_ns=%llu flush_ns=%llu full=%d",
		  __entry->nr_pages, __entry->nr_tables, __entry->nr_put_back,
		  __entry->duration_ns, __entry->flush_ns, __entry->full)
);

#endif /* _TRACE_VMEMMAP_OD_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
