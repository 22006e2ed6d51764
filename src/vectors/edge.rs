//! The embedded backend: one qdrant-edge shard per collection in a folder of its own under
//! the data directory. Shard calls block, so they run on the blocking pool. A shard folder
//! belongs to one process at a time: the process that runs the pipeline (`all`, `run-job`)
//! also answers its searches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, Filter, JsonPath, Match, NamedQuery, PayloadFieldSchema,
    PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStruct, QueryEnum,
    SearchRequest, UpdateOperation, ValueVariants, WithPayloadInterface, DEFAULT_VECTOR_NAME,
};
use uuid::Uuid;

use super::{Hit, Point, SearchFilter, VectorError, VectorStore, INDEXED_FIELDS};
use crate::domain::TenantId;

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

fn equals(field: &str, value: ValueVariants) -> Result<Condition, VectorError> {
    Ok(Condition::Field(FieldCondition::new_match(
        path(field)?,
        Match::new_value(value),
    )))
}

/// The tenant's condition, with the search's other limits.
fn filter_of(filter: &SearchFilter) -> Result<Filter, VectorError> {
    let mut must = vec![equals(
        "tenant_id",
        ValueVariants::Integer(filter.tenant_id.get()),
    )?];
    if let Some(source) = filter.source_type {
        must.push(equals("source_type", ValueVariants::String(source.into()))?);
    }
    let should = match &filter.scope {
        Some(scope) => Some(
            ["project", "repository"]
                .into_iter()
                .map(|field| equals(field, ValueVariants::String(scope.clone())))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    Ok(Filter {
        should,
        min_should: None,
        must: Some(must),
        must_not: None,
    })
}

fn tenant_filter(tenant: TenantId) -> Result<Filter, VectorError> {
    filter_of(&SearchFilter {
        tenant_id: tenant,
        source_type: None,
        scope: None,
    })
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
                    PointStruct::new(PointId::Uuid(point.id), point.vector, payload).into()
                })
                .collect();
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

    fn search<'a>(
        &'a self,
        collection: &'a str,
        vector: Vec<f32>,
        filter: &'a SearchFilter,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Hit>, VectorError>> {
        Box::pin(async move {
            let Some(shard) = self.shard(collection)? else {
                return Ok(Vec::new());
            };
            let request = SearchRequest {
                query: QueryEnum::Nearest(NamedQuery {
                    query: vector.into(),
                    using: None,
                }),
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
                filter: Some(tenant_filter(tenant)?),
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
