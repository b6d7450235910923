/*-------------------------------------------------------------------------
 *
 * hnswvalidate.c
 *	  engram_hnsw: operator class validation.
 *
 * An operator class has one ordering operator (strategy 1, FOR ORDER BY)
 * and two support functions: 1, the metric (engram.hnsw_<metric>_support)
 * and 2, the column type (engram.hnsw_<type>_support).
 *
 * src/am/hnsw/hnswvalidate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

#include "am/hnsw/hnsw.h"

bool
engram_hnsw_validate(Oid opclassoid)
{
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	char	   *opclassname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		result = true;
	bool		has_proc[3] = {false, false, false};
	bool		has_order = false;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (proc->amprocnum < 1 || proc->amprocnum > 2)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engram_hnsw operator class \"%s\" has invalid support function number %d",
							opclassname, proc->amprocnum)));
			result = false;
			continue;
		}
		has_proc[proc->amprocnum] = true;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engram_hnsw operator class \"%s\" has an operator other than one ordering operator with strategy 1",
							opclassname)));
			result = false;
			continue;
		}
		has_order = true;
	}

	if (!has_proc[HNSW_METRIC_PROC] || !has_proc[HNSW_TYPE_PROC] || !has_order)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("engram_hnsw operator class \"%s\" is missing its ordering operator or a support function",
						opclassname)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}
