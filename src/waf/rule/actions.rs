//! Gives meaning to each SecLang action of a rule (`deny`, `setvar:`, `ctl:`, `t:` …).

use super::{
    Actions, AllowScope, BodyProcessor, Ctl, Disruptive, EngineMode, Macro, SetVar, SetVarOp,
    Target, build::compile_targets, parse_id_range,
};
use crate::waf::seclang::ActionSpec;
use crate::waf::transform;

/// Applies one parsed action to `actions`; `id` and `phase` are the caller's.
pub fn apply_action(actions: &mut Actions, spec: &ActionSpec) -> Result<(), String> {
    let value = spec.value.as_deref();
    let need = || value.ok_or_else(|| format!("{} needs a value", spec.name));
    match spec.name.as_str() {
        "pass" => actions.disruptive = Some(Disruptive::Pass),
        "deny" => actions.disruptive = Some(Disruptive::Deny),
        "drop" => actions.disruptive = Some(Disruptive::Drop),
        "block" => actions.disruptive = Some(Disruptive::Block),
        "allow" => {
            let scope = match value.map(str::to_ascii_lowercase).as_deref() {
                None => AllowScope::All,
                Some("phase") => AllowScope::Phase,
                Some("request") => AllowScope::Request,
                Some(v) => return Err(format!("bad allow scope {v:?}")),
            };
            actions.disruptive = Some(Disruptive::Allow(scope));
        }
        "status" => {
            let status = need()?
                .trim()
                .parse::<u16>()
                .map_err(|_| format!("bad status {value:?}"))?;
            if !(100..=599).contains(&status) {
                return Err(format!("bad status {status}"));
            }
            actions.status = Some(status);
        }
        "msg" => actions.msg = Some(Macro::parse(need()?)),
        "logdata" => actions.logdata = Some(Macro::parse(need()?)),
        "tag" => actions.tags.push(need()?.to_string()),
        "severity" => actions.severity = Some(parse_severity(need()?)?),
        "capture" => actions.capture = true,
        "multimatch" => actions.multi_match = true,
        "log" => actions.log = Some(true),
        "nolog" => actions.log = Some(false),
        "skip" => {
            actions.skip = need()?
                .trim()
                .parse()
                .map_err(|_| format!("bad skip {value:?}"))?
        }
        "skipafter" => actions.skip_after = Some(need()?.to_string()),
        "setvar" => actions.setvars.push(parse_setvar(need()?)?),
        "ctl" => actions.ctls.push(parse_ctl(need()?)?),
        "t" => {
            let name = need()?.trim();
            if name.eq_ignore_ascii_case("none") {
                actions.transforms.clear();
                actions.transforms_reset = true;
            } else {
                let f = transform::lookup(name)
                    .ok_or_else(|| format!("unknown transformation {name:?}"))?;
                actions.transforms.push((name.to_string(), f));
            }
        }
        // Metadata and audit-log actions: accepted, no effect on evaluation.
        "chain"
        | "ver"
        | "rev"
        | "maturity"
        | "accuracy"
        | "auditlog"
        | "noauditlog"
        | "sanitisematched"
        | "sanitisearg"
        | "sanitiserequestheader"
        | "sanitiseresponseheader"
        | "sanitisematchedbytes"
        | "initcol"
        | "setuid"
        | "setsid"
        | "setenv"
        | "expirevar"
        | "deprecatevar"
        | "exec"
        | "append"
        | "prepend"
        | "xmlns" => {}
        "id" | "phase" => return Err(format!("{} is not allowed here", spec.name)),
        other => return Err(format!("unknown action {other:?}")),
    }
    Ok(())
}

fn parse_severity(v: &str) -> Result<u8, String> {
    let names = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    if let Ok(n) = v.trim().parse::<u8>()
        && n < 8
    {
        return Ok(n);
    }
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(v.trim()))
        .and_then(|p| u8::try_from(p).ok())
        .ok_or_else(|| format!("bad severity {v:?}"))
}

/// `tx.a=1`, `tx.a=+%{tx.b}`, `tx.a=-1`, `!tx.a`, `tx.a` (sets "1").
pub fn parse_setvar(text: &str) -> Result<SetVar, String> {
    let (delete, text) = match text.trim().strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text.trim()),
    };
    let (name, value) = match text.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (text, None),
    };
    let Some((collection, key)) = name.split_once('.') else {
        return Err(format!("setvar needs collection.name, got {name:?}"));
    };
    let collection = collection.trim().to_ascii_lowercase();
    if !matches!(
        collection.as_str(),
        "tx" | "ip" | "global" | "session" | "user" | "resource"
    ) {
        return Err(format!("setvar on unknown collection {collection:?}"));
    }
    let key = Macro::parse(&key.trim().to_ascii_lowercase());
    let op = match (delete, value) {
        (true, _) => SetVarOp::Delete,
        (false, None) => SetVarOp::Set(Macro::parse("1")),
        (false, Some(v)) => match v.as_bytes().first() {
            Some(b'+') => SetVarOp::Add(Macro::parse(&v[1..])),
            Some(b'-') => SetVarOp::Sub(Macro::parse(&v[1..])),
            _ => SetVarOp::Set(Macro::parse(v)),
        },
    };
    Ok(SetVar {
        collection,
        key,
        op,
    })
}

pub fn parse_ctl(text: &str) -> Result<Ctl, String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("ctl needs name=value, got {text:?}"))?;
    let value = value.trim();
    let on = || match value.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("ctl:{name} expects On or Off")),
    };
    let target_of = |v: &str| -> Result<Target, String> {
        let (add, remove) = compile_targets(v)?;
        add.into_iter()
            .chain(remove)
            .next()
            .ok_or_else(|| "ctl needs a target".to_string())
    };
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ruleremovebyid" => Ctl::RuleRemoveById(
            value
                .split([' ', ','])
                .filter(|v| !v.is_empty())
                .map(parse_id_range)
                .collect::<Result<_, _>>()?,
        ),
        "ruleremovebytag" => Ctl::RuleRemoveByTag(value.to_string()),
        "ruleremovetargetbyid" => {
            let (ids, target) = value
                .split_once(';')
                .ok_or("ruleRemoveTargetById needs id;TARGET")?;
            let ids = ids
                .split(',')
                .map(parse_id_range)
                .collect::<Result<_, _>>()?;
            Ctl::RuleRemoveTargetById(ids, target_of(target)?)
        }
        "ruleremovetargetbytag" => {
            let (tag, target) = value
                .split_once(';')
                .ok_or("ruleRemoveTargetByTag needs tag;TARGET")?;
            Ctl::RuleRemoveTargetByTag(tag.to_string(), target_of(target)?)
        }
        "ruleengine" => Ctl::RuleEngine(match value.to_ascii_lowercase().as_str() {
            "on" => EngineMode::On,
            "off" => EngineMode::Off,
            "detectiononly" => EngineMode::DetectionOnly,
            _ => return Err(format!("bad ctl:ruleEngine {value:?}")),
        }),
        "requestbodyprocessor" => Ctl::RequestBodyProcessor(
            BodyProcessor::parse(value).ok_or_else(|| format!("bad body processor {value:?}"))?,
        ),
        "requestbodyaccess" => Ctl::RequestBodyAccess(on()?),
        "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on()?),
        "auditengine" | "auditlogparts" | "debugloglevel" | "hashengine" | "requestbodylimit" => {
            Ctl::Ignored
        }
        other => return Err(format!("unknown ctl {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setvar_forms() {
        let s = parse_setvar("tx.Score=+%{tx.critical_anomaly_score}").unwrap();
        assert_eq!(s.collection, "tx");
        assert_eq!(s.key.literal(), Some("score"));
        assert!(matches!(s.op, SetVarOp::Add(_)));
        assert!(matches!(
            parse_setvar("!tx.a").unwrap().op,
            SetVarOp::Delete
        ));
        assert!(matches!(parse_setvar("tx.a").unwrap().op, SetVarOp::Set(_)));
        assert!(parse_setvar("nocollection").is_err());
        assert!(parse_setvar("foo.a=1").is_err());
    }

    #[test]
    fn ctl_forms() {
        assert!(
            matches!(parse_ctl("ruleRemoveById=920540").unwrap(), Ctl::RuleRemoveById(r) if r == vec![(920540, 920540)])
        );
        assert!(matches!(
            parse_ctl("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME").unwrap(),
            Ctl::RuleRemoveTargetByTag(t, _) if t == "xss-perf-disable"
        ));
        assert!(parse_ctl("requestBodyProcessor=YAML").is_err());
        assert!(parse_ctl("nonsense=1").is_err());
    }

    #[test]
    fn severity_by_name_or_number() {
        assert_eq!(parse_severity("CRITICAL").unwrap(), 2);
        assert_eq!(parse_severity("5").unwrap(), 5);
        assert!(parse_severity("LOUD").is_err());
    }
}
