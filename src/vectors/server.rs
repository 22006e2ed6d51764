//! The Qdrant server backend, over gRPC with qdrant-client: writes wait until the server
//! has applied them, every search and count filters on the tenant.

use futures_util::future::BoxFuture;
use qdrant_client::qdrant::{
    points_update_operation::{Operation, OverwritePayload},
    vectors_config, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter, Modifier,
    NamedVectors, PointId, PointStruct, PointsIdsList, PointsUpdateOperation, Range,
    SearchPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpdateBatchPointsBuilder, UpsertPointsBuilder, Vector, VectorParamsBuilder,
};
use qdrant_client::{Payload as QdrantPayload, Qdrant};
use uuid::Uuid;

use super::{
    Condition as Wanted, Hit, Payload, Point, Probe, SearchFilter, Value, VectorError, VectorStore,
    INDEXED_FIELDS, LEXICAL_VECTOR,
};
use crate::domain::TenantId;

/// A Qdrant server's collections.
pub struct ServerStore {
    client: Qdrant,
}

impl ServerStore {
    /// A client of the server at `url` (its gRPC address, e.g. `http://127.0.0.1:6334`);
    /// nothing is sent until it is used. The client's version check is off: it prints its
    /// warning on stdout (where `--json` output goes) for servers a minor version or more
    /// behind, which serve everything used here (tested against 1.16).
    pub fn connect(url: &str) -> Result<Self, VectorError> {
        let client = Qdrant::from_url(url)
            .skip_compatibility_check()
            .build()
            .map_err(store_error)?;
        Ok(ServerStore { client })
    }

    async fn exists(&self, collection: &str) -> Result<bool, VectorError> {
        self.client
            .collection_exists(collection)
            .await
            .map_err(store_error)
    }
}

fn store_error(error: impl std::fmt::Display) -> VectorError {
    VectorError::Store(error.to_string())
}

fn condition(wanted: &Wanted) -> Condition {
    match wanted {
        Wanted::Equals(field, Value::Integer(number)) => Condition::matches(*field, *number),
        Wanted::Equals(field, Value::Keyword(text)) => Condition::matches(*field, text.clone()),
        Wanted::Between(field, from, to) => Condition::range(
            *field,
            Range {
                gte: from.map(|v| v as f64),
                lte: to.map(|v| v as f64),
                ..Range::default()
            },
        ),
    }
}

/// The search's conditions as the server's filter.
fn filter_of(filter: &SearchFilter) -> Filter {
    let wanted = filter.conditions();
    let mut result = Filter::must(wanted.must.iter().map(condition));
    result.should = wanted.any_of.iter().map(condition).collect();
    result
}

impl VectorStore for ServerStore {
    fn ensure_collection<'a>(
        &'a self,
        collection: &'a str,
        dimensions: usize,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            if self.exists(collection).await? {
                let info = self
                    .client
                    .collection_info(collection)
                    .await
                    .map_err(store_error)?;
                let params = info
                    .result
                    .and_then(|info| info.config)
                    .and_then(|config| config.params);
                let has_lexical = params
                    .as_ref()
                    .and_then(|params| params.sparse_vectors_config.as_ref())
                    .is_some_and(|sparse| sparse.map.contains_key(LEXICAL_VECTOR));
                let existing = params
                    .and_then(|params| params.vectors_config)
                    .and_then(|vectors| vectors.config)
                    .map(|config| match config {
                        vectors_config::Config::Params(params) => params.size as usize,
                        vectors_config::Config::ParamsMap(_) => 0,
                    })
                    .unwrap_or(0);
                if existing != dimensions {
                    return Err(VectorError::Dimensions {
                        name: collection.to_owned(),
                        existing,
                        wanted: dimensions,
                    });
                }
                if !has_lexical {
                    return Err(VectorError::NoLexical(collection.to_owned()));
                }
                return Ok(());
            }
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(
                LEXICAL_VECTOR,
                SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
            );
            let created = self
                .client
                .create_collection(
                    CreateCollectionBuilder::new(collection)
                        .vectors_config(VectorParamsBuilder::new(
                            dimensions as u64,
                            Distance::Cosine,
                        ))
                        .sparse_vectors_config(sparse),
                )
                .await;
            if let Err(error) = created {
                // Another worker may have created it meanwhile.
                if !self.exists(collection).await? {
                    return Err(store_error(error));
                }
            }
            for (field, integer) in INDEXED_FIELDS {
                let kind = if integer {
                    FieldType::Integer
                } else {
                    FieldType::Keyword
                };
                self.client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(collection, field, kind).wait(true),
                    )
                    .await
                    .map_err(store_error)?;
            }
            Ok(())
        })
    }

    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        points: Vec<Point>,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let points: Vec<PointStruct> = points
                .into_iter()
                .map(|point| {
                    let payload = QdrantPayload::from(point.payload.to_json());
                    let vectors = NamedVectors::default()
                        .add_vector("", Vector::new_dense(point.vector))
                        .add_vector(
                            LEXICAL_VECTOR,
                            Vector::new_sparse(point.terms.indices, point.terms.values),
                        );
                    PointStruct::new(point.id, vectors, payload)
                })
                .collect();
            self.client
                .upsert_points(UpsertPointsBuilder::new(collection, points).wait(true))
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn delete<'a>(
        &'a self,
        collection: &'a str,
        ids: Vec<Uuid>,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            let ids = PointsIdsList {
                ids: ids.into_iter().map(Into::into).collect(),
            };
            self.client
                .delete_points(DeletePointsBuilder::new(collection).points(ids).wait(true))
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn set_payloads<'a>(
        &'a self,
        collection: &'a str,
        payloads: Vec<(Uuid, Payload)>,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            if payloads.is_empty() {
                return Ok(());
            }
            let operations: Vec<PointsUpdateOperation> = payloads
                .into_iter()
                .map(|(id, payload)| PointsUpdateOperation {
                    operation: Some(Operation::OverwritePayload(OverwritePayload {
                        payload: QdrantPayload::from(payload.to_json()).into(),
                        points_selector: Some(vec![PointId::from(id)].into()),
                        shard_key_selector: None,
                        key: None,
                    })),
                })
                .collect();
            self.client
                .update_points_batch(
                    UpdateBatchPointsBuilder::new(collection, operations).wait(true),
                )
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn search<'a>(
        &'a self,
        collection: &'a str,
        probe: Probe,
        filter: &'a SearchFilter,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Hit>, VectorError>> {
        Box::pin(async move {
            if !self.exists(collection).await? {
                return Ok(Vec::new());
            }
            let request = match probe {
                Probe::Meaning(vector) => {
                    SearchPointsBuilder::new(collection, vector, limit as u64)
                }
                Probe::Words(terms) => {
                    SearchPointsBuilder::new(collection, terms.values, limit as u64)
                        .sparse_indices(terms.indices)
                        .vector_name(LEXICAL_VECTOR)
                }
            };
            #[allow(deprecated)]
            let found = self
                .client
                .search_points(request.filter(filter_of(filter)).with_payload(true))
                .await
                .map_err(store_error)?;
            Ok(found
                .result
                .into_iter()
                .filter_map(|point| {
                    let payload = point
                        .payload
                        .into_iter()
                        .map(|(key, value)| (key, serde_json::Value::from(value)))
                        .collect();
                    Hit::from_payload(&payload, point.score)
                })
                .collect())
        })
    }

    fn count<'a>(
        &'a self,
        collection: &'a str,
        tenant: TenantId,
    ) -> BoxFuture<'a, Result<u64, VectorError>> {
        Box::pin(async move {
            if !self.exists(collection).await? {
                return Ok(0);
            }
            let filter = filter_of(&SearchFilter::tenant(tenant));
            let counted = self
                .client
                .count(
                    CountPointsBuilder::new(collection)
                        .filter(filter)
                        .exact(true),
                )
                .await
                .map_err(store_error)?;
            Ok(counted.result.map(|r| r.count).unwrap_or(0))
        })
    }

    fn drop_collection<'a>(
        &'a self,
        collection: &'a str,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            if self.exists(collection).await? {
                self.client
                    .delete_collection(collection)
                    .await
                    .map_err(store_error)?;
            }
            Ok(())
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), VectorError>> {
        Box::pin(async move {
            self.client.health_check().await.map_err(store_error)?;
            Ok(())
        })
    }
}
