//! The RabbitMQ backend against the real broker: each test on its own queue names.

use std::time::{Duration, Instant};

use crate::common::queues::rabbitmq_url;
use pulse_etl::domain::{IntegrationId, JobId, Provider, RawId, TenantId, Tier};
use pulse_etl::queue::rabbitmq::{Broker, RabbitConsumer};
use pulse_etl::queue::topology::{QueueStage, Topology};
use pulse_etl::queue::{
    Consumer, Delivery, Publisher, Rejected, StageMessage, Work, MESSAGE_VERSION,
};

fn topology(max_attempts: u32) -> Topology {
    let prefix = format!("test_{}_", uuid::Uuid::new_v4().simple());
    Topology::new(&prefix, max_attempts, Duration::from_millis(200))
}

async fn broker(topology: &Topology) -> Broker {
    let broker = Broker::connect(&rabbitmq_url(), topology.clone())
        .await
        .unwrap_or_else(|error| panic!("RabbitMQ at {} is unreachable: {error}", rabbitmq_url()));
    broker
        .declare(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
    broker
}

fn message(id: i64) -> StageMessage {
    StageMessage {
        version: MESSAGE_VERSION,
        tenant_id: TenantId(1),
        integration_id: IntegrationId(2),
        job_id: Some(JobId(3)),
        kind: "jira_issue".into(),
        provider: Provider::Jira,
        last_sync_date: None,
        first_item: id == 1,
        last_item: false,
        last_job_item: false,
        work: Work::Transform {
            raw_data_ids: vec![RawId(id)],
        },
    }
}

async fn next(consumer: &mut RabbitConsumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a delivery within 10 s")
        .expect("the consumer is connected")
}

async fn nothing_more(consumer: &mut RabbitConsumer) {
    let more = tokio::time::timeout(Duration::from_millis(600), consumer.next()).await;
    assert!(more.is_err(), "expected an empty queue");
}

#[tokio::test]
async fn unacknowledged_messages_come_back_when_their_consumer_dies() {
    let topology = topology(3);
    let broker = broker(&topology).await;
    let publisher = broker.publisher(QueueStage::Transform, Tier::Premium);
    for id in 1..=3 {
        publisher.publish(message(id)).await.unwrap();
    }

    // A worker takes a message and dies before acknowledging it.
    let crashed = Broker::connect(&rabbitmq_url(), topology.clone())
        .await
        .unwrap();
    let mut consumer = crashed
        .consumer(QueueStage::Transform, &[Tier::Premium], 1)
        .await
        .unwrap();
    let taken = next(&mut consumer).await;
    assert_eq!(taken.message, message(1));
    drop(consumer);
    crashed.close().await.unwrap();

    // Another worker gets everything, the lost message included, exactly once each.
    let mut consumer = broker
        .consumer(QueueStage::Transform, &[Tier::Premium], 10)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let delivery = next(&mut consumer).await;
        seen.push(delivery.message.raw_data_ids()[0]);
        delivery.ack().await.unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![RawId(1), RawId(2), RawId(3)]);
    nothing_more(&mut consumer).await;
    broker
        .delete(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
}

#[tokio::test]
async fn failures_are_retried_later_then_dead_lettered_with_their_error() {
    let topology = topology(3);
    let broker = broker(&topology).await;
    // Declaring again changes nothing.
    broker
        .declare(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
    let publisher = broker.publisher(QueueStage::Transform, Tier::Premium);
    publisher.publish(message(7)).await.unwrap();
    let mut consumer = broker
        .consumer(QueueStage::Transform, &[Tier::Premium], 10)
        .await
        .unwrap();

    let mut rejected_at = Instant::now();
    for attempt in 1..=3 {
        let delivery = next(&mut consumer).await;
        assert_eq!(delivery.attempt, attempt);
        assert_eq!(delivery.message, message(7));
        if attempt > 1 {
            // Waited in the delay queue of its level (200 ms, then 400 ms).
            let waited = rejected_at.elapsed();
            assert!(waited >= Duration::from_millis(150), "{waited:?}");
        }
        assert_eq!(delivery.out_of_attempts(), attempt == 3);
        rejected_at = Instant::now();
        let outcome = delivery.reject("database unavailable", true).await.unwrap();
        if attempt < 3 {
            assert_eq!(
                outcome,
                Rejected::Retried {
                    attempt: attempt + 1
                }
            );
        } else {
            assert_eq!(outcome, Rejected::DeadLettered);
        }
    }
    nothing_more(&mut consumer).await;

    let failed = broker.failed_messages(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 3);
    assert_eq!(failed[0].error.as_deref(), Some("database unavailable"));
    assert_eq!(failed[0].stage(), Some(QueueStage::Transform));
    assert_eq!(
        failed[0].queue.as_deref(),
        Some(
            topology
                .work_queue(QueueStage::Transform, Tier::Premium)
                .as_str()
        )
    );
    // Listing leaves the messages in place.
    assert_eq!(broker.failed_messages(10).await.unwrap().len(), 1);

    // Requeued after the fix: delivered again with a fresh attempt count.
    assert!(broker
        .requeue_failed(Some(QueueStage::Load))
        .await
        .unwrap()
        .is_empty());
    let requeued = broker
        .requeue_failed(Some(QueueStage::Transform))
        .await
        .unwrap();
    assert_eq!(requeued.len(), 1);
    assert_eq!(
        serde_json::from_str::<StageMessage>(&requeued[0].body).unwrap(),
        message(7)
    );
    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.attempt, 1);
    assert_eq!(delivery.message, message(7));

    // Not worth retrying: dead-lettered at once; purged by stage.
    assert_eq!(
        delivery
            .reject("no transform for this", false)
            .await
            .unwrap(),
        Rejected::DeadLettered
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        broker
            .purge_failed(Some(QueueStage::Load))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(broker.purge_failed(None).await.unwrap().len(), 1);
    assert!(broker.failed_messages(10).await.unwrap().is_empty());
    broker
        .delete(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
}

#[tokio::test]
async fn publishing_to_an_undeclared_queue_fails_instead_of_vanishing() {
    let topology = topology(3);
    let broker = broker(&topology).await;
    let nowhere = broker.publisher(QueueStage::Load, Tier::Free);
    let error = nowhere.publish(message(1)).await.unwrap_err().to_string();
    assert!(error.contains("no such queue"), "{error}");
    broker
        .delete(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
}

/// Publishes `body` as it is to a work queue, as another build of pulse-etl would.
async fn publish_raw(queue: &str, body: &serde_json::Value) {
    use lapin::options::BasicPublishOptions;
    use lapin::{BasicProperties, Connection, ConnectionProperties};
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    let connection = Connection::connect(&rabbitmq_url(), properties)
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "",
            queue,
            BasicPublishOptions::default(),
            &serde_json::to_vec(body).unwrap(),
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    connection.close(200, "done").await.unwrap();
}

#[tokio::test]
async fn older_bodies_are_read_and_unknown_versions_dead_lettered_with_the_reason() {
    let topology = topology(3);
    let broker = broker(&topology).await;
    let queue = topology.work_queue(QueueStage::Transform, Tier::Premium);
    let version_1 = serde_json::json!({
        "version": 1, "tenant_id": 1, "integration_id": 2, "job_id": 3,
        "type": "jira_issue", "provider": "jira", "last_sync_date": null,
        "first_item": true, "last_item": false, "last_job_item": false,
        "raw_data_ids": [1],
    });
    publish_raw(&queue, &version_1).await;
    let mut from_the_future = version_1.clone();
    from_the_future["version"] = 99.into();
    publish_raw(&queue, &from_the_future).await;

    let mut consumer = broker
        .consumer(QueueStage::Transform, &[Tier::Premium], 10)
        .await
        .unwrap();
    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.message, message(1));
    delivery.ack().await.unwrap();
    nothing_more(&mut consumer).await;

    let failed = broker.failed_messages(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    let error = failed[0].error.clone().unwrap_or_default();
    assert!(error.contains("message version 99"), "{error}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&failed[0].body).unwrap(),
        from_the_future,
        "kept as it came"
    );
    broker.purge_failed(None).await.unwrap();
    broker
        .delete(QueueStage::Transform, &[Tier::Premium])
        .await
        .unwrap();
}
