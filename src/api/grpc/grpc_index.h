/*
 * grpc_index.h - payload field indexes over gRPC: CreateFieldIndexCollection
 * in, PayloadSchemaInfo out.  Used by grpc_points.c (CreateFieldIndex) and
 * grpc_collections.c (Get).
 */
#ifndef QV_API_GRPC_INDEX_H
#define QV_API_GRPC_INDEX_H

#include "api/grpc/grpc_internal.h"

/* The request as the REST body {"field_name", "field_schema"} (in the
 * request arena), for qv_rest_decode_create_index: field_type alone becomes
 * the type name, field_index_params the parameters object.  A field_type
 * that contradicts field_index_params is INVALID_ARGUMENT. */
qv_rc qv_grpc_create_index_body(qv_grpc_req *rq, const Qdrant__CreateFieldIndexCollection *q,
                                jv *body, qv_err *err);

/* Fills info->payload_schema from the collection's declared indexes. */
void qv_grpc_payload_schema_out(qv_grpc_req *rq, qv_collection *c, Qdrant__CollectionInfo *info);

#endif
