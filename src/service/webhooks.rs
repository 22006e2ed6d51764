//! Webhooks from the sources: the secret each integration's deliveries are signed with (made
//! here, sealed, shown once; the replaced one stays valid for a day), and the receipt of a
//! delivery — signature checked in constant time, stored raw under its delivery id, nothing
//! else done before the answer.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::domain::text::to_hex;
use crate::domain::{IntegrationId, IntegrationRef, Provider, TenantId};
use crate::pipeline::source::Reach;
use crate::pipeline::webhooks::{HookTarget, Installed};
use crate::security::{new_webhook_secret, webhook_verifies, CredentialCipher};
use crate::sources::CATALOG;
use crate::store::webhooks::{self, DeliveryCounts, Registration};
use crate::store::{integrations, StoreError};

/// How long a replaced secret still verifies deliveries: time to paste the new one into the
/// source's settings.
pub const PREVIOUS_SECRET_VALID_FOR: Duration = Duration::from_secs(24 * 3600);

/// The largest delivery body taken (GitHub caps its payloads at 25 MB, but the events read
/// here are far smaller; Jira's are well under this).
pub const MAX_DELIVERY_BYTES: usize = 1 << 20;

/// A new webhook secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhookSecret {
    pub integration_id: IntegrationId,
    /// Paste it into the source's webhook settings; it is never shown again.
    pub secret: String,
    /// Where the source sends deliveries, under the API's public address.
    pub path: String,
    /// Until when the secret this one replaced still verifies deliveries (none when there
    /// was none).
    pub previous_valid_until: Option<chrono::DateTime<Utc>>,
}

/// Where `provider`'s deliveries for an integration are received.
pub fn receiver_path(provider: Provider, integration_id: IntegrationId) -> String {
    format!("/api/v1/webhooks/{provider}/{integration_id}")
}

/// Makes a new webhook secret for the tenant's integration.
pub async fn rotate_secret(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> ServiceResult<NewWebhookSecret> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let secret = new_webhook_secret();
    let target = IntegrationRef::new(tenant_id, integration_id);
    let previous_valid_until =
        webhooks::rotate_secret(pool, cipher, target, &secret, PREVIOUS_SECRET_VALID_FOR).await?;
    Ok(NewWebhookSecret {
        integration_id,
        secret,
        path: receiver_path(integration.provider, integration_id),
        previous_valid_until,
    })
}

/// What `install` did: hooks registered, and what to set up by hand where the token may not.
#[derive(Debug, Serialize, ToSchema)]
pub struct Installation {
    pub integration_id: IntegrationId,
    /// Where the source delivers.
    pub url: String,
    #[serde(flatten)]
    pub installed: Installed,
}

/// The receiver URL under the API's public address `public_url` (`https://pulse.example`).
fn receiver_url(
    public_url: &str,
    provider: Provider,
    integration_id: IntegrationId,
) -> ServiceResult<String> {
    let invalid = |message: &str| ServiceError::Invalid {
        field: "public_url",
        message: message.to_owned(),
    };
    let parsed = url::Url::parse(public_url.trim())
        .map_err(|error| invalid(&format!("not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid("must be an http:// or https:// address"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query or a fragment"));
    }
    let base = parsed.as_str().trim_end_matches('/');
    Ok(format!("{base}{}", receiver_path(provider, integration_id)))
}

/// Registers the integration's webhooks at the source, delivering to its receiver under
/// `public_url`, signed with a new secret (the one it replaces stays valid for a day).
pub async fn install(
    pool: &PgPool,
    reach: &Reach,
    (tenant_id, integration_id): (TenantId, IntegrationId),
    public_url: &str,
) -> ServiceResult<Installation> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    let url = receiver_url(public_url, integration.provider, integration_id)?;
    let made = rotate_secret(pool, &reach.cipher, tenant_id, integration_id).await?;
    let hook = HookTarget {
        url: url.clone(),
        secret: made.secret,
    };
    let installed = CATALOG
        .source(integration.provider)
        .install_webhooks(
            pool,
            reach,
            IntegrationRef::new(tenant_id, integration_id),
            &hook,
        )
        .await
        .map_err(|error| ServiceError::Source(format!("{error:#}")))?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        integration_id = integration_id.get(),
        registered = installed.registered.len(),
        manual = installed.manual.len(),
        "webhooks installed"
    );
    Ok(Installation {
        integration_id,
        url,
        installed,
    })
}

/// Removes the integration's registered webhooks from the source; returns the targets.
pub async fn uninstall(
    pool: &PgPool,
    reach: &Reach,
    (tenant_id, integration_id): (TenantId, IntegrationId),
) -> ServiceResult<Vec<String>> {
    let integration = integrations::get(pool, tenant_id, integration_id).await?;
    CATALOG
        .source(integration.provider)
        .uninstall_webhooks(pool, reach, IntegrationRef::new(tenant_id, integration_id))
        .await
        .map_err(|error| ServiceError::Source(format!("{error:#}")))
}

/// The tenant's integration's deliveries; live when one came within `live_within` (the
/// scheduler's interval).
pub async fn status(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    live_within: Duration,
) -> ServiceResult<WebhookStatus> {
    integrations::get(pool, tenant_id, integration_id).await?;
    let integration = IntegrationRef::new(tenant_id, integration_id);
    Ok(WebhookStatus {
        deliveries: webhooks::delivery_counts(pool, integration, live_within).await?,
        installed: webhooks::registrations(pool, integration).await?,
    })
}

/// An integration's webhooks: the hooks registered at the source and the deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatus {
    #[serde(flatten)]
    pub deliveries: DeliveryCounts,
    /// Hooks `install` registered (empty when none, or when set up by hand).
    pub installed: Vec<Registration>,
}

/// One delivery as it arrived.
pub struct Delivery<'a> {
    pub provider: Provider,
    pub integration_id: IntegrationId,
    /// The signature header (`sha256=<hex>`).
    pub signature: Option<&'a str>,
    /// The source's id of the delivery (the same on a redelivery).
    pub delivery_id: Option<&'a str>,
    /// GitHub's event header (Jira names the event in the body).
    pub event: Option<&'a str>,
    /// Jira's retry counter.
    pub retry: Option<&'a str>,
    pub body: &'a [u8],
}

/// What became of a verified delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Stored,
    /// Its delivery id was stored before.
    Duplicate,
}

/// Why a delivery was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A missing or wrong signature, or no active integration of that source with a secret
    /// under that id: one answer for all, so the id cannot be probed.
    #[error("the delivery's signature does not match a webhook secret of this integration")]
    Unauthorized,
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Secrets checked when the integration has none, so that an unknown id costs the same.
const STAND_IN_SECRETS: [[u8; 64]; 2] = [[0; 64]; 2];

/// Verifies a delivery and stores it raw; processing happens later, elsewhere.
pub async fn receive(
    pool: &PgPool,
    cipher: &CredentialCipher,
    delivery: Delivery<'_>,
) -> Result<Receipt, Refusal> {
    let receiver =
        webhooks::receiver(pool, cipher, delivery.provider, delivery.integration_id).await?;
    let verified = match &receiver {
        Some(receiver) => webhook_verifies(delivery.signature, &receiver.secrets, delivery.body),
        None => {
            std::hint::black_box(webhook_verifies(
                delivery.signature,
                &STAND_IN_SECRETS,
                delivery.body,
            ));
            false
        }
    };
    let (Some(receiver), true) = (receiver, verified) else {
        return Err(Refusal::Unauthorized);
    };
    let body: Value = serde_json::from_slice(delivery.body)
        .map_err(|error| Refusal::Malformed(format!("the body is not JSON: {error}")))?;
    if !body.is_object() {
        return Err(Refusal::Malformed("the body is not a JSON object".into()));
    }
    let event = delivery
        .event
        .or_else(|| body["webhookEvent"].as_str())
        .unwrap_or("unknown")
        .to_owned();
    // A delivery without an id is told apart by its content.
    let delivery_id = match delivery
        .delivery_id
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        Some(id) => id.chars().take(200).collect(),
        None => body_digest(delivery.body),
    };
    let metadata = json!({
        "event": event,
        "delivery": delivery_id,
        "retry": delivery.retry,
        "received_at": Utc::now(),
    });
    let integration = IntegrationRef::new(receiver.tenant_id, delivery.integration_id);
    let stored = webhooks::store_delivery(
        pool,
        integration,
        (delivery.provider, &delivery_id),
        body,
        &metadata,
    )
    .await?;
    Ok(if stored {
        Receipt::Stored
    } else {
        Receipt::Duplicate
    })
}

fn body_digest(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", to_hex(&Sha256::digest(body)))
}
