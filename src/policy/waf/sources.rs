//! A `waf` spec as the SecLang sources the engine loads, in order: engine
//! settings, the CRS setup file, the CRS settings the spec names, the CRS
//! rules, the user's rule files, then the exclusions that apply everywhere.
//! Values that reach generated SecLang are checked by `validate` (ids,
//! tags, targets, setting names and values), so nothing here can inject
//! directives.

use std::path::{Path, PathBuf};

use crate::config::spec_waf::{WafMode, WafSpec};
use crate::waf::engine::RuleSource;

/// Rule ids 99000–99099 are the gateway's own (generated settings).
const SETTINGS_ID: u32 = 99000;

pub fn rule_sources(spec: &WafSpec) -> Vec<RuleSource> {
    let mut sources = vec![text("<waf engine settings>", engine_settings(spec))];
    if let Some(crs) = &spec.crs {
        let crs = Path::new(crs);
        let setup = crs.join("crs-setup.conf");
        sources.push(RuleSource::Files(if setup.is_file() {
            setup
        } else {
            crs.join("crs-setup.conf.example")
        }));
        sources.push(text("<waf crs settings>", crs_settings(spec)));
        sources.push(RuleSource::Files(crs.join("rules/*.conf")));
    }
    for file in &spec.rules {
        sources.push(RuleSource::Files(PathBuf::from(file)));
    }
    sources.push(text("<waf exclusions>", global_exclusions(spec)));
    sources
}

fn text(name: &str, text: String) -> RuleSource {
    RuleSource::Text {
        name: PathBuf::from(name),
        text,
    }
}

fn on(flag: bool) -> &'static str {
    if flag { "On" } else { "Off" }
}

/// ModSecurity's recommended base settings, with the body limits the
/// gateway enforces itself (it buffers at most `max_bytes`, so the engine
/// processes what it is given).
fn engine_settings(spec: &WafSpec) -> String {
    let engine = match spec.mode {
        WafMode::Block => "On",
        WafMode::Detect => "DetectionOnly",
    };
    let req = &spec.request_body;
    let resp = &spec.response_body;
    let mut out = format!(
        "SecRuleEngine {engine}\n\
         SecRequestBodyAccess {}\n\
         SecRequestBodyLimit {}\n\
         SecRequestBodyNoFilesLimit {}\n\
         SecRequestBodyLimitAction ProcessPartial\n\
         SecResponseBodyAccess {}\n\
         SecResponseBodyLimit {}\n\
         SecResponseBodyLimitAction ProcessPartial\n\
         SecRequestBodyJsonDepthLimit 512\n\
         SecArgumentsLimit 1000\n\
         SecArgumentSeparator &\n",
        on(req.inspect),
        req.max_bytes,
        req.max_bytes,
        on(resp.inspect),
        resp.max_bytes,
    );
    if !resp.mime_types.is_empty() {
        out.push_str("SecResponseBodyMimeTypesClear\n");
        out.push_str(&format!(
            "SecResponseBodyMimeType {}\n",
            resp.mime_types.join(" ")
        ));
    }
    if spec.reject_invalid_bodies {
        out.push_str(concat!(
            "SecRule REQBODY_ERROR \"!@eq 0\" \"id:200002,phase:2,t:none,log,deny,status:400,",
            "msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2\"\n",
            "SecRule MULTIPART_STRICT_ERROR \"!@eq 0\" \"id:200003,phase:2,t:none,log,deny,",
            "status:400,msg:'Multipart request body failed strict validation'\"\n",
        ));
    }
    out
}

/// `tx.*` values the CRS reads (its initialization rule 901 keeps values
/// already set), one `SecAction` each.
fn crs_settings(spec: &WafSpec) -> String {
    let mut vars: Vec<(String, String)> = vec![
        (
            "blocking_paranoia_level".into(),
            spec.paranoia_level.to_string(),
        ),
        (
            "inbound_anomaly_score_threshold".into(),
            spec.anomaly_threshold.inbound.to_string(),
        ),
        (
            "outbound_anomaly_score_threshold".into(),
            spec.anomaly_threshold.outbound.to_string(),
        ),
    ];
    if let Some(level) = spec.detection_paranoia_level {
        vars.push(("detection_paranoia_level".into(), level.to_string()));
    }
    vars.extend(
        spec.crs_settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let mut out = String::new();
    for (i, (key, value)) in vars.iter().enumerate() {
        let id = SETTINGS_ID + i as u32;
        out.push_str(&format!(
            "SecAction \"id:{id},phase:1,pass,t:none,nolog,setvar:'tx.{key}={value}'\"\n"
        ));
    }
    out
}

/// Exclusions without a route or path scope, as SecLang directives
/// applied to the loaded rules.
fn global_exclusions(spec: &WafSpec) -> String {
    let mut out = String::new();
    for ex in spec
        .exclusions
        .iter()
        .filter(|e| e.routes.is_empty() && e.paths.is_empty())
    {
        let ids: Vec<String> = ex
            .rule_ids
            .iter()
            .filter_map(|r| r.range().ok())
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        match &ex.target {
            None => {
                if !ids.is_empty() {
                    out.push_str(&format!("SecRuleRemoveById {}\n", ids.join(" ")));
                }
                for tag in &ex.tags {
                    out.push_str(&format!("SecRuleRemoveByTag \"{tag}\"\n"));
                }
            }
            Some(target) => {
                for id in &ids {
                    out.push_str(&format!("SecRuleUpdateTargetById {id} \"!{target}\"\n"));
                }
                for tag in &ex.tags {
                    out.push_str(&format!(
                        "SecRuleUpdateTargetByTag \"{tag}\" \"!{target}\"\n"
                    ));
                }
            }
        }
    }
    out
}

/// Scoped exclusions as `ctl` actions applied to a matching request's
/// transaction before its first phase.
pub fn scoped_ctls(ex: &crate::config::spec_waf::WafExclusion) -> Result<Vec<String>, String> {
    let mut ctls = Vec::new();
    let ids: Vec<String> = ex
        .rule_ids
        .iter()
        .map(|r| r.range().map(|(lo, hi)| format!("{lo}-{hi}")))
        .collect::<Result<_, _>>()?;
    match &ex.target {
        None => {
            if !ids.is_empty() {
                ctls.push(format!("ruleRemoveById={}", ids.join(",")));
            }
            for tag in &ex.tags {
                ctls.push(format!("ruleRemoveByTag={tag}"));
            }
        }
        Some(target) => {
            if !ids.is_empty() {
                ctls.push(format!("ruleRemoveTargetById={};{target}", ids.join(",")));
            }
            for tag in &ex.tags {
                ctls.push(format!("ruleRemoveTargetByTag={tag};{target}"));
            }
        }
    }
    Ok(ctls)
}
