//! The words of a simulated issue: its summary — in English for most issues, in Chinese,
//! Japanese or mixed Chinese and English for some, as real multinational sites have — and
//! the sentences its description adds (a component, a symptom, a customer and a release,
//! words the summary does not hold).

use super::issues::purpose;
use crate::simulator::rng::Stream;

const VERBS: &[&str] = &[
    "Add",
    "Fix",
    "Refactor",
    "Remove",
    "Improve",
    "Migrate",
    "Document",
    "Investigate",
];
const OBJECTS: &[&str] = &[
    "login flow",
    "billing export",
    "search ranking",
    "cache layer",
    "webhook retries",
    "audit log",
    "dashboard filters",
    "rate limiter",
    "CSV import",
    "notification emails",
];
/// What makes a summary specific, as real ones are: the symptom, the case, the ask.
const DETAILS: &[&str] = &[
    "when the session expires",
    "with more than 10k rows",
    "in Safari 17",
    "after a password reset",
    "for the quarterly close",
    "under heavy load",
    "when the SSO provider is slow",
    "for archived projects",
    "with non-ASCII names",
    "before the Friday release",
    "as the auditors asked",
    "when two admins edit at once",
    "with daylight saving time",
    "for customers on the legacy plan",
    "after the database failover",
    "when the webhook endpoint returns 410",
    "using the new design tokens",
    "without a page reload",
    "from the partner API",
    "on slow 3G networks",
    "with read-only users",
    "when the CSV has a BOM",
    "after the Kubernetes upgrade",
    "in the German locale",
    "for invoices over 1,000 lines",
    "when the cache is cold",
    "with keyboard navigation only",
    "from the nightly batch",
    "when the queue backs up",
    "to cut the p99 latency",
    "for the mobile SDK",
    "behind the corporate proxy",
];
const QUALIFIERS: &[&str] = &[
    "for enterprise tenants",
    "on mobile",
    "behind a feature flag",
    "in the EU region",
    "after the outage",
    "",
    "",
    "",
];

/// The same verbs, objects and details in Chinese.
const VERBS_ZH: &[&str] = &[
    "添加",
    "修复",
    "重构",
    "移除",
    "改进",
    "迁移",
    "编写文档说明",
    "调查",
];
const OBJECTS_ZH: &[&str] = &[
    "登录流程",
    "账单导出",
    "搜索排序",
    "缓存层",
    "回调重试",
    "审计日志",
    "仪表盘筛选",
    "限流器",
    "CSV 导入",
    "通知邮件",
];
const DETAILS_ZH: &[&str] = &[
    "会话过期时",
    "超过一万行时",
    "在 Safari 17 中",
    "重置密码后",
    "季度结算前",
    "高负载下",
    "单点登录服务变慢时",
    "针对已归档项目",
    "名称含非 ASCII 字符时",
    "周五发布前",
    "按审计人员要求",
    "两名管理员同时编辑时",
    "夏令时切换时",
    "旧版套餐客户",
    "数据库故障切换后",
    "移动端 SDK",
];

/// The same in Japanese.
const VERBS_JA: &[&str] = &[
    "追加",
    "修正",
    "リファクタリング",
    "削除",
    "改善",
    "移行",
    "文書化",
    "調査",
];
const OBJECTS_JA: &[&str] = &[
    "ログインフロー",
    "請求エクスポート",
    "検索ランキング",
    "キャッシュ層",
    "Webhook 再試行",
    "監査ログ",
    "ダッシュボードのフィルター",
    "レートリミッター",
    "CSV インポート",
    "通知メール",
];
const DETAILS_JA: &[&str] = &[
    "セッション切れの時",
    "一万行を超える場合",
    "Safari 17 で",
    "パスワードリセット後",
    "四半期決算の前に",
    "高負荷時",
    "SSO が遅い時",
    "アーカイブ済みプロジェクト",
    "非 ASCII の名前",
    "金曜リリース前",
    "監査の要請で",
    "管理者二人が同時に編集する時",
    "夏時間の切り替え時",
    "旧プランの顧客",
    "データベース切替後",
    "モバイル SDK",
];

/// The description's words.
const COMPONENTS: &[&str] = &[
    "payments gateway",
    "identity provider",
    "report scheduler",
    "export worker",
    "audit pipeline",
    "notification hub",
    "search indexer",
    "tenant provisioning",
    "pricing engine",
    "session store",
    "document renderer",
    "metrics collector",
    "mobile backend",
    "invoice generator",
    "feature flag service",
    "webhook dispatcher",
];
const SYMPTOMS: &[&str] = &[
    "timeouts",
    "HTTP 502 responses",
    "duplicate rows",
    "stale totals",
    "encoding errors",
    "deadlocks",
    "memory spikes",
    "missing attachments",
    "permission denials",
    "slow queries",
    "retry storms",
    "truncated files",
];
const CUSTOMERS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Acme Freight",
    "Stark Retail",
    "Wayne Logistics",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Energy",
];

/// The language of an issue's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
    Japanese,
    /// Chinese with an English term in it.
    Mixed,
}

/// Issue `index`'s summary language: one in six Chinese, one in six Japanese, one in twelve
/// mixed, the rest English.
pub fn language(index: u32) -> Language {
    match index % 12 {
        1 | 5 => Language::Chinese,
        3 | 9 => Language::Japanese,
        7 => Language::Mixed,
        _ => Language::English,
    }
}

/// Issue `index`'s summary. The English words are drawn from `body` whatever the language,
/// so every other value drawn from it after stays as it was.
pub fn summary(seed: u64, index: u32, body: &mut Stream) -> String {
    let qualifier = *body.pick(QUALIFIERS);
    let verb = body.pick(VERBS);
    let object = body.pick(OBJECTS);
    let detail = Stream::new(seed, &[purpose::DETAIL, u64::from(index)]).pick(DETAILS);
    let mut words = Stream::new(seed, &[purpose::LANGUAGE, u64::from(index)]);
    match language(index) {
        Language::English => format!("{verb} {object} {qualifier}")
            .split_whitespace()
            .chain(detail.split_whitespace())
            .collect::<Vec<_>>()
            .join(" "),
        Language::Chinese => format!(
            "{}{}{}",
            words.pick(DETAILS_ZH),
            words.pick(VERBS_ZH),
            words.pick(OBJECTS_ZH)
        ),
        Language::Japanese => format!(
            "{}の{}（{}）",
            words.pick(OBJECTS_JA),
            words.pick(VERBS_JA),
            words.pick(DETAILS_JA)
        ),
        Language::Mixed => format!(
            "{} {} {}",
            words.pick(VERBS_ZH),
            object,
            words.pick(DETAILS_ZH)
        ),
    }
}

/// The parts of issue `index`'s description beyond its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptionWords {
    pub component: &'static str,
    pub symptom: &'static str,
    pub customer: &'static str,
    pub release: u64,
    pub users: u64,
}

pub fn description_words(seed: u64, index: u32) -> DescriptionWords {
    let mut words = Stream::new(seed, &[purpose::DESCRIPTION, u64::from(index)]);
    let component = *words.pick(COMPONENTS);
    let symptom = *words.pick(SYMPTOMS);
    let customer = *words.pick(CUSTOMERS);
    DescriptionWords {
        component,
        symptom,
        customer,
        release: words.below(40),
        users: 10 * (1 + words.below(90)),
    }
}

/// Issue `index`'s description sentences.
pub fn description(seed: u64, index: u32) -> String {
    let w = description_words(seed, index);
    format!(
        "The {} shows {} for {}. It started with release 3.{} and affects about {} users.",
        w.component, w.symptom, w.customer, w.release, w.users
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_come_in_four_languages_and_stay_the_same_per_seed() {
        let mut seen = Vec::new();
        for index in 0..12 {
            let mut body = Stream::new(5, &[purpose::BODY, u64::from(index), 1]);
            let text = summary(5, index, &mut body);
            let mut again = Stream::new(5, &[purpose::BODY, u64::from(index), 1]);
            assert_eq!(text, summary(5, index, &mut again));
            // The body stream is left where the English summary leaves it.
            assert_eq!(body.next_u64(), again.next_u64());
            seen.push((language(index), text));
        }
        let cjk = |text: &str| text.chars().any(|c| ('\u{3040}'..='\u{9fff}').contains(&c));
        for (language, text) in &seen {
            match language {
                Language::English => assert!(text.is_ascii(), "{text}"),
                Language::Chinese | Language::Japanese => assert!(cjk(text), "{text}"),
                Language::Mixed => {
                    assert!(cjk(text) && text.chars().any(|c| c.is_ascii_alphabetic()))
                }
            }
        }
        assert_eq!(
            seen.iter().filter(|(l, _)| *l == Language::English).count(),
            7
        );
    }

    #[test]
    fn descriptions_name_a_component_a_symptom_and_a_customer() {
        let words = description_words(3, 10);
        let text = description(3, 10);
        for part in [words.component, words.symptom, words.customer] {
            assert!(text.contains(part), "{text}");
        }
        assert_ne!(description(3, 10), description(3, 11));
    }
}
