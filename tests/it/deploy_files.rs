//! The deploy files cannot drift from the code: every command line that the compose file,
//! the Kubernetes manifests, the systemd units and the Dockerfile run is accepted by the
//! binary's own CLI parser; every environment variable they set is one the configuration
//! reads; the workers' KEDA triggers name real queues; and the Grafana dashboard and the
//! alert rules use only metrics the binary exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use pulse_etl::cli::Cli;
use pulse_etl::config::is_config_env;
use pulse_etl::domain::Tier;
use pulse_etl::queue::topology::{QueueStage, Topology};
use pulse_etl::telemetry::metrics::{Kind, ALL};
use serde::Deserialize;
use serde_json::Value;

/// The long-running roles every deployment runs: the API, the scheduler and a worker per
/// stage.
const ROLES: [&str; 6] = [
    "serve",
    "scheduler",
    "extract",
    "transform",
    "load",
    "embed",
];

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every YAML document of a file, as JSON values (merge keys applied).
fn yaml_documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = serde_yaml_ng::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            value.apply_merge().unwrap();
            serde_json::to_value(value).unwrap()
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// Asserts `words` (after the program name) is a command line the CLI accepts.
fn assert_accepted(words: &[String], origin: &str) {
    let argv = std::iter::once("pulse-etl".to_owned()).chain(words.iter().cloned());
    if let Err(error) = Cli::try_parse_from(argv) {
        panic!(
            "{origin}: `pulse-etl {}` is refused:\n{error}",
            words.join(" ")
        );
    }
}

/// Environment variables read besides the configuration's: the CLI's own (`--log-format`)
/// and the log filter.
fn cli_env() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.insert("RUST_LOG".into());
    names
}

/// Asserts `name` is an environment variable pulse-etl reads.
fn assert_known_env(name: &str, origin: &str) {
    assert!(
        is_config_env(name) || cli_env().contains(name),
        "{origin}: {name} is not a configuration key (config/default.toml) nor read by the CLI"
    );
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_known_env_check_can_fail() {
    assert!(is_config_env("DATABASE_URL"));
    assert!(is_config_env("PULSE_SHUTDOWN__GRACE_SECS"));
    assert!(is_config_env("PULSE_METRICS__ADDR"));
    assert!(!is_config_env("PULSE_SHUTDOWN__GRACE"));
    assert!(!is_config_env("PULSE_SCHEDULER"), "a section is not a key");
    assert!(!is_config_env("DATABASE_URI"));
    assert!(cli_env().contains("PULSE_LOG_FORMAT"));
    let refused = std::panic::catch_unwind(|| {
        assert_accepted(&["worker".into(), "--stage".into(), "bake".into()], "test")
    });
    assert!(refused.is_err(), "an unknown stage must be refused");
}

#[test]
fn compose_services_run_command_lines_and_settings_the_binary_knows() {
    let compose = yaml_documents("docker-compose.yml").remove(0);
    let services = compose["services"].as_object().unwrap();
    let ours: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, service)| service["image"].as_str() == Some("pulse-etl:latest"))
        .collect();
    let names: BTreeSet<&str> = ours.iter().map(|(name, _)| name.as_str()).collect();
    for role in std::iter::once("migrate").chain(ROLES) {
        assert!(names.contains(role), "compose has no {role} service");
    }
    for (name, service) in ours {
        let origin = format!("docker-compose.yml service {name}");
        let command = strings(&service["command"]);
        assert!(!command.is_empty(), "{origin}: no command");
        assert_accepted(&command, &origin);
        let environment = service["environment"].as_object().unwrap();
        for key in environment.keys() {
            assert_known_env(key, &origin);
        }
        if name != "migrate" {
            assert!(
                service["healthcheck"]["test"].is_array(),
                "{origin}: no health check"
            );
            assert_eq!(service["restart"], "unless-stopped", "{origin}");
        }
    }
    for (name, service) in services {
        if name != "migrate" {
            assert!(service["restart"].is_string(), "{name}: no restart policy");
        }
    }
}

/// Every document of every manifest file.
fn kubernetes_documents() -> Vec<(String, Value)> {
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(deploy("kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for document in yaml_documents(&format!("kubernetes/{name}")) {
            documents.push((name.clone(), document));
        }
    }
    documents
}

#[test]
fn kubernetes_manifests_run_command_lines_and_settings_the_binary_knows() {
    let documents = kubernetes_documents();
    let kind = |wanted: &'static str| {
        documents
            .iter()
            .filter(move |(_, document)| document["kind"] == wanted)
            .map(|(file, document)| (file.as_str(), document))
    };
    for (file, map) in kind("ConfigMap").chain(kind("Secret")) {
        let data = map["data"]
            .as_object()
            .or(map["stringData"].as_object())
            .unwrap();
        for key in data.keys() {
            assert_known_env(key, file);
        }
    }
    let mut workloads = Vec::new();
    for (file, workload) in kind("Deployment").chain(kind("Job")) {
        let name = workload["metadata"]["name"].as_str().unwrap();
        let origin = format!("{file} {name}");
        let pod = &workload["spec"]["template"]["spec"];
        for container in pod["containers"].as_array().unwrap() {
            assert!(
                container["command"].is_null(),
                "{origin}: the image's entrypoint is the binary; give args only"
            );
            assert_accepted(&strings(&container["args"]), &origin);
            for variable in container["env"].as_array().into_iter().flatten() {
                assert_known_env(variable["name"].as_str().unwrap(), &origin);
            }
            if workload["kind"] == "Deployment" {
                for probe in ["livenessProbe", "readinessProbe"] {
                    let path = container[probe]["httpGet"]["path"].as_str();
                    let expected = if probe == "livenessProbe" {
                        "/healthz"
                    } else {
                        "/readyz"
                    };
                    assert_eq!(path, Some(expected), "{origin}: {probe}");
                }
            }
        }
        workloads.push((workload["kind"].as_str().unwrap(), name));
    }
    let deployments: BTreeSet<&str> = workloads
        .iter()
        .filter(|(kind, _)| *kind == "Deployment")
        .map(|(_, name)| *name)
        .collect();
    for role in ROLES {
        assert!(
            deployments.contains(format!("pulse-etl-{role}").as_str()),
            "no {role} Deployment"
        );
    }
    assert!(
        workloads.contains(&("Job", "pulse-etl-migrate")),
        "no migrate Job"
    );
    let budgets: BTreeSet<&str> = kind("PodDisruptionBudget")
        .map(|(_, pdb)| pdb["metadata"]["name"].as_str().unwrap())
        .collect();
    for deployment in &deployments {
        assert!(
            budgets.contains(deployment),
            "{deployment} has no PodDisruptionBudget"
        );
    }
    // Each worker stage scales on its own queues, named as the code names them.
    let topology = Topology::new("", 1, std::time::Duration::from_secs(1));
    for (stage, queue_stage) in [
        ("extract", QueueStage::Extraction),
        ("transform", QueueStage::Transform),
        ("load", QueueStage::Load),
        ("embed", QueueStage::Embedding),
    ] {
        let target = format!("pulse-etl-{stage}");
        let scaled = kind("ScaledObject")
            .find(|(_, scaled)| scaled["spec"]["scaleTargetRef"]["name"] == target.as_str())
            .unwrap_or_else(|| panic!("no ScaledObject for {target}"))
            .1;
        let queues: BTreeSet<String> = scaled["spec"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|trigger| assert_eq!(trigger["type"], "rabbitmq"))
            .map(|trigger| {
                trigger["metadata"]["queueName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let expected: BTreeSet<String> = topology
            .work_queues(queue_stage, Tier::ALL)
            .into_iter()
            .collect();
        assert_eq!(queues, expected, "{target}'s triggers");
    }
}

#[test]
fn systemd_units_and_the_dockerfile_run_command_lines_the_binary_knows() {
    let mut units = Vec::new();
    for entry in std::fs::read_dir(deploy("systemd")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "service") {
            units.push(path);
        }
    }
    let names: BTreeSet<String> = units
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for role in [
        "migrate",
        "serve",
        "scheduler",
        "extract@",
        "transform@",
        "load@",
        "embed@",
    ] {
        assert!(
            names.contains(&format!("pulse-etl-{role}.service")),
            "no unit for {role}"
        );
    }
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        let origin = unit.display().to_string();
        let exec = text
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{origin}: no ExecStart"));
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/pulse-etl"), "{origin}");
        let words: Vec<&str> = words.collect();
        // A template's instance is a tier or `all`.
        for instance in ["all", "free", "enterprise"] {
            let args: Vec<String> = words.iter().map(|w| w.replace("%i", instance)).collect();
            assert_accepted(&args, &origin);
        }
    }
    for line in read("systemd/env.example").lines() {
        if let Some((name, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            assert_known_env(name, "systemd/env.example");
        }
    }
    let dockerfile = read("Dockerfile");
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap();
    // ENV instructions, their continuation lines joined.
    let instructions = runtime.replace("\\\n", " ");
    let env: Vec<&str> = instructions
        .lines()
        .filter_map(|line| line.strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|word| word.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(env.contains(&"PULSE_METRICS__ADDR"), "{env:?}");
    for name in env {
        assert_known_env(name, "Dockerfile");
    }
    let cmd = runtime
        .lines()
        .find_map(|line| line.strip_prefix("CMD "))
        .expect("Dockerfile CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).unwrap();
    assert_accepted(&cmd, "Dockerfile CMD");
    assert!(
        runtime.contains("\nUSER "),
        "the runtime image runs as a non-root user"
    );
}

/// Every metric name the dashboard and the alert rules use, as exported (a histogram's
/// `_bucket`, `_sum` and `_count` series are its own name).
pub fn metrics_the_deploy_files_use() -> BTreeSet<String> {
    let mut expressions = Vec::new();
    let dashboard: Value = serde_json::from_str(&read("grafana/pulse-etl.json")).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            expressions.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    let rules = yaml_documents("prometheus/alerts.yml").remove(0);
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            expressions.push(rule["expr"].as_str().unwrap().to_owned());
        }
    }
    let mut names = BTreeSet::new();
    for expression in &expressions {
        let mut rest = expression.as_str();
        while let Some(start) = rest.find("pulse_") {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    names
}

/// The exported name behind a series name (histograms export three series).
pub fn exported_name(series: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = series.strip_suffix(suffix) {
            if ALL
                .iter()
                .any(|(name, kind, _)| *name == base && *kind == Kind::Histogram)
            {
                return base;
            }
        }
    }
    series
}

#[test]
fn the_dashboard_and_the_alerts_use_only_exported_metrics() {
    let used = metrics_the_deploy_files_use();
    assert!(used.len() >= 15, "{used:?}");
    for series in &used {
        let name = exported_name(series);
        assert!(
            ALL.iter().any(|(exported, _, _)| *exported == name),
            "{series} is not a metric pulse-etl exports"
        );
    }
    let alerts = read("prometheus/alerts.yml");
    for alert in [
        "pulse_job_runs_total",
        "pulse_dead_letter_messages",
        "pulse_scheduler_lag_seconds",
        "pulse_source_requests_total{status=~\"429|403\"}",
        "pulse_queue_depth",
    ] {
        assert!(alerts.contains(alert), "no alert on {alert}");
    }
}
