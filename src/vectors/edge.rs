//! The embedded backend: one qdrant-edge shard per collection in a folder of its own under
//! the data directory. Shard calls block, so they run on the blocking pool. A shard folder
//! belongs to one process at a time: the process that runs the pipeline (`all`, `run-job`)
//! also answers its searches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, JsonPath, Match, Modifier,
    NamedQuery, PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, QueryEnum, Range, SearchRequest, SetPayloadOp, UpdateOperation,
    ValueVariants, Vector, Vectors, WithPayloadInterface, DEFAULT_VECTOR_NAME,
};
use uuid::Uuid;

use super::{
    Condition as Wanted, Hit, Payload, Point, Probe, SearchFilter, Value, VectorError, VectorStore,
    INDEXED_FIELDS, LEXICAL_VECTOR,
};
use crate::domain::TenantId;
use crate::search::terms::SparseTerms;

/// Collections as shard folders under one directory.
pub struct EdgeStore {
    root: PathBuf,
    shards: Mutex<HashMap<String, Arc<EdgeShard>>>,
}

impl EdgeStore {
    pub fn new(root: &Path) -> Self {
        EdgeStore {
            root: root.to_owned(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn folder(&self, collection: &str) -> PathBuf {
        self.root.join(collection)
    }

    /// The open shard of `collection`, opened from its folder if need be (None: no such
    /// collection).
    fn shard(&self, collection: &str) -> Result<Option<Arc<EdgeShard>>, VectorError> {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shard) = shards.get(collection) {
            return Ok(Some(Arc::clone(shard)));
        }
        let folder = self.folder(collection);
        if !folder.join("edge_config.json").exists() {
            return Ok(None);
        }
        let shard = Arc::new(EdgeShard::load(&folder, None).map_err(store_error)?);
        shards.insert(collection.to_owned(), Arc::clone(&shard));
        Ok(Some(shard))
    }

    /// Creates the collection's shard with its payload indexes, or opens it.
    fn create(&self, collection: &str, dimensions: usize) -> Result<(), VectorError> {
        if let Some(shard) = self.shard(collection)? {
            let existing = shard
                .config()
                .vectors
                .get(DEFAULT_VECTOR_NAME)
                .map(|params| params.size)
                .unwrap_or(0);
            if existing != dimensions {
                return Err(VectorError::Dimensions {
                    name: collection.to_owned(),
                    existing,
                    wanted: dimensions,
                });
            }
            if !shard.config().sparse_vectors.contains_key(LEXICAL_VECTOR) {
                return Err(VectorError::NoLexical(collection.to_owned()));
            }
            return Ok(());
        }
        let folder = self.folder(collection);
        std::fs::create_dir_all(&folder)
            .map_err(|error| VectorError::Store(format!("{}: {error}", folder.display())))?;
        let config = EdgeConfig {
            on_disk_payload: false,
            vectors: HashMap::from([(
                DEFAULT_VECTOR_NAME.to_owned(),
                EdgeVectorParams {
                    size: dimensions,
                    distance: Distance::Cosine,
                    on_disk: None,
                    multivector_config: None,
                    datatype: None,
                    quantization_config: None,
                    hnsw_config: None,
                },
            )]),
            sparse_vectors: HashMap::from([(
                LEXICAL_VECTOR.to_owned(),
                EdgeSparseVectorParams {
                    full_scan_threshold: None,
                    on_disk: None,
                    modifier: Some(Modifier::Idf),
                    datatype: None,
                },
            )]),
            ..EdgeConfig::default()
        };
        let shard = EdgeShard::new(&folder, config).map_err(store_error)?;
        for (field, integer) in INDEXED_FIELDS {
            let schema = if integer {
                PayloadSchemaType::Integer
            } else {
                PayloadSchemaType::Keyword
            };
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: path(field)?,
                        field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                    }),
                ))
                .map_err(store_error)?;
        }
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        shards.insert(collection.to_owned(), Arc::new(shard));
        Ok(())
    }

    /// The shard of an existing collection, or an error naming it.
    fn existing(&self, collection: &str) -> Result<Arc<EdgeShard>, VectorError> {
        self.shard(collection)?
            .ok_or_else(|| VectorError::Store(format!("no collection {collection}")))
    }
}

/// Runs blocking shard work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VectorError> + Send + 'static,
) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| VectorError::Store(error.to_string()))?
}

fn store_error(error: impl std::fmt::Display) -> VectorError {
    VectorError::Store(error.to_string())
}

/// A top-level payload key as a path (the keys are ours, plain names).
fn path(field: &str) -> Result<JsonPath, VectorError> {
    JsonPath::try_from(field).map_err(|_| VectorError::Store(format!("bad payload key {field}")))
}

fn condition(wanted: &Wanted) -> Result<Condition, VectorError> {
    let field = match wanted {
        Wanted::Equals(field, value) => {
            let value = match value {
                Value::Integer(number) => ValueVariants::Integer(*number),
                Value::Keyword(text) => ValueVariants::String(text.clone()),
            };
            FieldCondition::new_match(path(field)?, Match::new_value(value))
        }
        Wanted::Between(field, from, to) => FieldCondition::new_range(
            path(field)?,
            Range {
                lt: None,
                gt: None,
                gte: from.map(|v| OrderedFloat(v as f64)),
                lte: to.map(|v| OrderedFloat(v as f64)),
            },
        ),
    };
    Ok(Condition::Field(field))
}

/// The search's conditions as the engine's filter.
fn filter_of(filter: &SearchFilter) -> Result<Filter, VectorError> {
    let wanted = filter.conditions();
    let all = |conditions: &[Wanted]| {
        conditions
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Filter {
        should: if wanted.any_of.is_empty() {
            None
        } else {
            Some(all(&wanted.any_of)?)
        },
        min_should: None,
        must: Some(all(&wanted.must)?),
        must_not: None,
    })
}

/// A point's two vectors: the dense one unnamed, the lexical one by its name.
fn vectors_of(vector: Vec<f32>, terms: SparseTerms) -> Result<Vectors, VectorError> {
    let lexical = Vector::new_sparse(terms.indices, terms.values).map_err(store_error)?;
    Ok(Vectors::new_named([
        (DEFAULT_VECTOR_NAME, Vector::new_dense(vector)),
        (LEXICAL_VECTOR, lexical),
    ]))
}

impl VectorStore for EdgeStore {
    fn ensure_collection<'a>(
        &'a self,
        collection: &'a str,
        dimensions: usize,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move { self.create(collection, dimensions) })
    }

    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        points: Vec<Point>,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let shard = self.existing(collection)?;
            let points = points
                .into_iter()
                .map(|point| {
                    let payload = serde_json::Value::Object(point.payload.to_json());
                    let vectors = vectors_of(point.vector, point.terms)?;
                    Ok(PointStruct::new(PointId::Uuid(point.id), vectors, payload).into())
                })
                .collect::<Result<_, VectorError>>()?;
            blocking(move || {
                shard
                    .update(UpdateOperation::PointOperation(
                        PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                    ))
                    .map_err(store_error)
            })
            .await
        })
    }

    fn delete<'a>(
        &'a self,
        collection: &'a str,
        ids: Vec<Uuid>,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let Some(shard) = self.shard(collection)? else {
                return Ok(());
            };
            let ids = ids.into_iter().map(PointId::Uuid).collect();
            blocking(move || {
                shard
                    .update(UpdateOperation::PointOperation(
                        PointOperations::DeletePoints { ids },
                    ))
                    .map_err(store_error)
            })
            .await
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
            let Some(shard) = self.shard(collection)? else {
                return Ok(());
            };
            blocking(move || {
                for (id, payload) in payloads {
                    let payload = serde_json::Value::Object(payload.to_json());
                    let operation = SetPayloadOp {
                        payload: serde_json::from_value(payload).map_err(store_error)?,
                        points: Some(vec![PointId::Uuid(id)]),
                        filter: None,
                        key: None,
                    };
                    shard
                        .update(UpdateOperation::PayloadOperation(
                            PayloadOps::OverwritePayload(operation),
                        ))
                        .map_err(store_error)?;
                }
                Ok(())
            })
            .await
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
            let Some(shard) = self.shard(collection)? else {
                return Ok(Vec::new());
            };
            let query = match probe {
                Probe::Meaning(vector) => NamedQuery {
                    query: vector.into(),
                    using: None,
                },
                Probe::Words(terms) => NamedQuery {
                    query: Vector::new_sparse(terms.indices, terms.values)
                        .map_err(store_error)?
                        .0,
                    using: Some(LEXICAL_VECTOR.to_owned()),
                },
            };
            let request = SearchRequest {
                query: QueryEnum::Nearest(query),
                filter: Some(filter_of(filter)?),
                params: None,
                limit,
                offset: 0,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: None,
                score_threshold: None,
            };
            let found = blocking(move || shard.search(request).map_err(store_error)).await?;
            Ok(found
                .into_iter()
                .filter_map(|point| Hit::from_payload(&point.payload?.0, point.score))
                .collect())
        })
    }

    fn count<'a>(
        &'a self,
        collection: &'a str,
        tenant: TenantId,
    ) -> BoxFuture<'a, Result<u64, VectorError>> {
        Box::pin(async move {
            let Some(shard) = self.shard(collection)? else {
                return Ok(0);
            };
            let request = CountRequest {
                filter: Some(filter_of(&SearchFilter::tenant(tenant))?),
                exact: true,
            };
            let count = blocking(move || shard.count(request).map_err(store_error)).await?;
            Ok(count as u64)
        })
    }

    fn drop_collection<'a>(
        &'a self,
        collection: &'a str,
    ) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let shard = self
                .shards
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(collection);
            drop(shard);
            let folder = self.folder(collection);
            match std::fs::remove_dir_all(&folder) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(VectorError::Store(format!("{}: {error}", folder.display())))
                }
                _ => Ok(()),
            }
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), VectorError>> {
        Box::pin(async move {
            std::fs::create_dir_all(&self.root)
                .map_err(|error| VectorError::Store(format!("{}: {error}", self.root.display())))
        })
    }
}
