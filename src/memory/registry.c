/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  Registered memory tables and the queries prepared for them.
 *
 * spread and recall run a handful of queries per call; planning them every
 * time would cost more than running them.  Queries over engram's own tables
 * are prepared once per backend; those over a memory table are prepared per
 * table and kept in a hash keyed by its OID, prepared again when the
 * registration, the table's name or the cue's type changes (a saved plan
 * re-parses its query text on invalidation, so it must name the table as it
 * is named now).
 *
 * src/memory/registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "memory/memory.h"

static HTAB *memory_tables = NULL;
static SPIPlanPtr registration_plan = NULL;

/*
 * Prepare query once per backend and keep it; *cache holds it afterwards
 */
SPIPlanPtr
EngramMemoryPrepare(SPIPlanPtr *cache, const char *query, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*cache != NULL)
		return *cache;
	plan = SPI_prepare(query, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	*cache = plan;
	return plan;
}

/*
 * A one-dimensional bigint[] of ids, for "= ANY($n)" parameters
 */
ArrayType *
EngramInt8Array(const int64 *ids, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ArrayType  *result;

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(ids[i]);
	result = construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
							 TYPALIGN_DOUBLE);
	pfree(elems);
	return result;
}

static Oid
TypeNamespace(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	return nsp;
}

static SPIPlanPtr
PrepareKept(const char *query, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = NULL;

	return EngramMemoryPrepare(&plan, query, nargs, argtypes);
}

/*
 * The registration of relid with its prepared queries, or an error when the
 * table is not attached.  cuetype is the type of recall's cue (InvalidOid
 * when the caller needs no kNN query).  Must be called inside SPI.
 */
MemoryTable *
EngramMemoryTableGet(Oid relid, Oid cuetype)
{
	Oid			argtypes[2];
	Datum		values[1];
	char	   *relname;
	char	   *qualname;
	char	   *idcol;
	char	   *embcol;
	bool		found;
	MemoryTable *mt;

	argtypes[0] = OIDOID;
	EngramMemoryPrepare(&registration_plan,
						"SELECT id_column, embedding_column FROM engram.memory_tables"
						" WHERE tbl = $1::pg_catalog.regclass",
						1, argtypes);
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_plan(registration_plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "cannot read engram.memory_tables");
	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	/*
	 * The edges are read past the executor (edges.c): whoever cannot read
	 * the memory table must not learn its associations either
	 */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(get_rel_relkind(relid)),
					   relname);
	/* named as regclass names it in the SQL functions (schema-qualified) */
	qualname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  relname);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not attached as engram memory", qualname),
				 errhint("Call engram.attach() first.")));
	idcol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	embcol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	if (memory_tables == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(MemoryTable);
		ctl.hcxt = TopMemoryContext;
		memory_tables = hash_create("engram memory tables", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	mt = hash_search(memory_tables, &relid, HASH_ENTER, &found);
	if (found &&
		(strcmp(mt->qualname, qualname) != 0 ||
		 strcmp(NameStr(mt->idcol), idcol) != 0 ||
		 strcmp(NameStr(mt->embcol), embcol) != 0 ||
		 (OidIsValid(cuetype) && OidIsValid(mt->cuetype) && mt->cuetype != cuetype)))
	{
		if (mt->exists_plan)
			SPI_freeplan(mt->exists_plan);
		if (mt->lock_plan)
			SPI_freeplan(mt->lock_plan);
		if (mt->knn_plan)
			SPI_freeplan(mt->knn_plan);
		found = false;
	}
	if (!found)
	{
		mt->exists_plan = NULL;
		mt->lock_plan = NULL;
		mt->knn_plan = NULL;
		mt->cuetype = InvalidOid;
		strlcpy(mt->qualname, qualname, sizeof(mt->qualname));
		namestrcpy(&mt->idcol, idcol);
		namestrcpy(&mt->embcol, embcol);
	}

	if (mt->exists_plan == NULL)
	{
		StringInfoData q;

		initStringInfo(&q);
		appendStringInfo(&q, "SELECT t.%s FROM %s t WHERE t.%s = ANY($1)",
						 quote_identifier(idcol), qualname, quote_identifier(idcol));
		argtypes[0] = INT8ARRAYOID;
		mt->exists_plan = PrepareKept(q.data, 1, argtypes);
		appendStringInfo(&q, " ORDER BY 1 FOR KEY SHARE OF t");
		mt->lock_plan = PrepareKept(q.data, 1, argtypes);
		pfree(q.data);
	}
	if (OidIsValid(cuetype) && mt->knn_plan == NULL)
	{
		StringInfoData q;
		char	   *opschema = get_namespace_name(TypeNamespace(cuetype));
		const char *emb = quote_identifier(embcol);

		/* the operator of the cue's type, wherever engram is installed */
		initStringInfo(&q);
		appendStringInfo(&q,
						 "SELECT t.%s, t.%s OPERATOR(%s.<=>) $1 FROM %s t"
						 " ORDER BY t.%s OPERATOR(%s.<=>) $1 LIMIT $2",
						 quote_identifier(idcol), emb, quote_identifier(opschema),
						 qualname, emb, quote_identifier(opschema));
		argtypes[0] = cuetype;
		argtypes[1] = INT8OID;
		mt->knn_plan = PrepareKept(q.data, 2, argtypes);
		mt->cuetype = cuetype;
		pfree(q.data);
	}
	return mt;
}
