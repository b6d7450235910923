/*-------------------------------------------------------------------------
 *
 * alexvalidate.c
 *	  engram_alex: operator family validation.
 *
 * A family has btree's five comparison strategies and, for every pair of
 * types it compares, support function 1, a btree-style three-way
 * comparison returning int4 (alexkey.c uses it for cross-type keys).
 *
 * src/am/alex/alexvalidate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

#include "am/alex/alex.h"

bool
engram_alex_validate(Oid opclassoid)
{
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	char	   *opclassname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		result = true;
	bool		has_cmp = false;
	int			strategies = 0;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (proc->amprocnum != ALEX_CMP_PROC ||
			!check_amproc_signature(proc->amproc, INT4OID, true, 2, 2,
									proc->amproclefttype, proc->amprocrighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engram_alex operator family of \"%s\" has a wrong support function %d for types %s and %s",
							opclassname, proc->amprocnum,
							format_type_be(proc->amproclefttype),
							format_type_be(proc->amprocrighttype))));
			result = false;
			continue;
		}
		if (proc->amproclefttype == classform->opcintype &&
			proc->amprocrighttype == classform->opcintype)
			has_cmp = true;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (op->amopstrategy < 1 || op->amopstrategy > BTMaxStrategyNumber ||
			op->amoppurpose != AMOP_SEARCH ||
			!check_amop_signature(op->amopopr, BOOLOID, op->amoplefttype, op->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engram_alex operator family of \"%s\" has a wrong operator %u with strategy %d",
							opclassname, op->amopopr, op->amopstrategy)));
			result = false;
			continue;
		}
		if (op->amoplefttype == classform->opcintype &&
			op->amoprighttype == classform->opcintype)
			strategies |= 1 << op->amopstrategy;
	}

	if (!has_cmp || strategies != 0x3e)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("engram_alex operator class \"%s\" lacks one of the operators < <= = >= > or its comparison function",
						opclassname)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}
