//! RabbitMQ for tests: one set of queue names per test (a unique prefix), the environment
//! that points `pulse-etl` processes at them, worker processes, and clean-up.

use std::process::Child;
use std::time::{Duration, Instant};

use pulse_etl::domain::Tier;
use pulse_etl::queue::rabbitmq::Broker;
use pulse_etl::queue::topology::{QueueStage, Topology};

use super::{spawn_cli, ScratchDb, TEST_SECRET_KEY};

pub fn rabbitmq_url() -> String {
    std::env::var("PULSE_TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Queue names of one test, and the environment that points processes at them.
pub struct Queues {
    pub prefix: String,
    pub url: String,
}

impl Queues {
    pub fn new() -> Self {
        Queues {
            prefix: format!("test_{}_", uuid::Uuid::new_v4().simple()),
            url: rabbitmq_url(),
        }
    }

    pub fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("RABBITMQ_URL", self.url.as_str()),
            ("PULSE_QUEUE__NAME_PREFIX", self.prefix.as_str()),
            ("PULSE_QUEUE__RETRY_BASE_SECS", "1"),
            ("PULSE_QUEUE__MAX_ATTEMPTS", "2"),
            ("PULSE_QUEUE__PREFETCH", "4"),
        ]
    }

    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix, 2, Duration::from_secs(1))
    }

    /// A worker process for transform and load.
    pub fn worker(&self, db: &ScratchDb, dir: &std::path::Path) -> Child {
        self.worker_of(db, dir, &["transform", "load"])
    }

    /// A worker process for `stages`.
    pub fn worker_of(&self, db: &ScratchDb, dir: &std::path::Path, stages: &[&str]) -> Child {
        self.worker_with(db, dir, stages, &[])
    }

    /// As [`Queues::worker_of`], with more environment variables.
    pub fn worker_with(
        &self,
        db: &ScratchDb,
        dir: &std::path::Path,
        stages: &[&str],
        extra: &[(&str, &str)],
    ) -> Child {
        let mut env = self.env();
        env.extend_from_slice(extra);
        env.push(("DATABASE_URL", db.url.as_str()));
        env.push(("PULSE_SECRET_KEY", TEST_SECRET_KEY));
        let mut args = vec!["worker", "--tier", "all"];
        for stage in stages {
            args.extend(["--stage", stage]);
        }
        spawn_cli(dir, &env, &args)
    }

    /// Removes the test's queues.
    pub async fn delete(&self) {
        let broker = Broker::connect(&self.url, self.topology()).await.unwrap();
        for stage in QueueStage::ALL {
            broker.delete(stage, Tier::ALL).await.unwrap();
        }
        broker.close().await.unwrap();
    }
}

/// SIGTERM, then the exit status (the worker finishes the message in hand and stops).
pub fn terminate(mut child: Child) -> std::process::ExitStatus {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "worker did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
