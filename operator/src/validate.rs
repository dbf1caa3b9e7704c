//! Validate: the cross-field rules the CRD also states as CEL `x-kubernetes-validations`.
//!
//! The API server enforces the CEL rules, but objects created before a rule existed, or a cluster
//! without CEL, must not make the operator render nonsense, so each rule is mirrored here with the
//! same message. Tests evaluate both paths on the same samples.

use crate::crd::{
    RULE_AUTOSCALING_RANGE, RULE_INGRESS_NEEDS_WEBHOOK, RULE_ONE_DATABASE, RULE_ONE_REDIS,
    RULE_POSTGRES_MAJOR_IMMUTABLE, RULE_WEBHOOK_FOR_SCALE, TooGoodToGo,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: &'static str,
}

/// Rules on the resource alone.
pub fn validate(cr: &TooGoodToGo) -> Result<(), Vec<ValidationError>> {
    let spec = &cr.spec;
    let mut errors = Vec::new();
    let mut check = |ok: bool, field: &'static str, message: &'static str| {
        if !ok {
            errors.push(ValidationError { field, message });
        }
    };
    check(
        (spec.replicas <= 1 && spec.autoscaling.is_none()) || spec.telegram.webhook.is_some(),
        "spec.telegram",
        RULE_WEBHOOK_FOR_SCALE,
    );
    check(
        spec.ingress.is_none() || spec.telegram.webhook.is_some(),
        "spec.ingress",
        RULE_INGRESS_NEEDS_WEBHOOK,
    );
    check(
        [
            spec.database.managed.is_some(),
            spec.database.external.is_some(),
            spec.database.cloud_native_pg.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
            == 1,
        "spec.database",
        RULE_ONE_DATABASE,
    );
    check(
        spec.redis.managed.is_some() != spec.redis.external.is_some(),
        "spec.redis",
        RULE_ONE_REDIS,
    );
    if let Some(autoscaling) = &spec.autoscaling {
        check(
            autoscaling.min_replicas <= autoscaling.max_replicas,
            "spec.autoscaling",
            RULE_AUTOSCALING_RANGE,
        );
    }
    for (schedule, field) in [
        (
            spec.backup.as_ref().and_then(|b| b.schedule.as_deref()),
            "spec.backup.schedule",
        ),
        (
            spec.secret_rotation
                .as_ref()
                .and_then(|r| r.schedule.as_deref()),
            "spec.secretRotation.schedule",
        ),
    ] {
        if let Some(schedule) = schedule {
            check(
                crate::cron::Schedule::parse(schedule).is_ok(),
                field,
                RULE_CRON,
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Message of an invalid schedule.
pub const RULE_CRON: &str = "not a cron schedule: five fields (minute hour day-of-month month day-of-week) or @daily, @weekly, ...";

/// Transition rules: `running_postgres_major` is the major version of the live StatefulSet's
/// image, when there is one. The CEL rule compares with the previous spec; the operator compares
/// with what actually runs, which also catches an image override with another major version.
pub fn validate_transition(
    cr: &TooGoodToGo,
    running_postgres_major: Option<&str>,
) -> Result<(), ValidationError> {
    let (Some(managed), Some(running)) = (&cr.spec.database.managed, running_postgres_major) else {
        return Ok(());
    };
    let wanted = postgres_major_of_image(&crate::resources::postgres::image(managed));
    match wanted {
        Some(wanted) if wanted != running => Err(ValidationError {
            field: "spec.database.managed.version",
            message: RULE_POSTGRES_MAJOR_IMMUTABLE,
        }),
        _ => Ok(()),
    }
}

/// `postgres:16-alpine` -> `16`; `registry:5000/pg/postgres:15.4` -> `15`.
pub fn postgres_major_of_image(image: &str) -> Option<String> {
    let tag = image
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))?
        .1;
    let major: String = tag.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty()).then_some(major)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invalid_sample_value, sample};

    #[test]
    fn every_sample_passes() {
        for name in crate::testing::sample_names() {
            assert_eq!(validate(&sample(&name)), Ok(()), "{name}");
        }
    }

    #[test]
    fn a_schedule_that_is_not_cron_is_refused_with_its_field() {
        let mut cr = sample("production.yaml");
        cr.spec.secret_rotation = Some(crate::crd::SecretRotationSpec {
            schedule: Some("every sunday".to_owned()),
            ..Default::default()
        });
        if let Some(backup) = cr.spec.backup.as_mut() {
            backup.schedule = Some("@daily".to_owned());
        }
        assert_eq!(
            validate(&cr),
            Err(vec![ValidationError {
                field: "spec.secretRotation.schedule",
                message: RULE_CRON,
            }])
        );
    }

    #[test]
    fn image_major_versions() {
        assert_eq!(
            postgres_major_of_image("postgres:16-alpine").as_deref(),
            Some("16")
        );
        assert_eq!(
            postgres_major_of_image("registry:5000/postgres:15.4").as_deref(),
            Some("15")
        );
        assert_eq!(postgres_major_of_image("registry:5000/postgres"), None);
        assert_eq!(postgres_major_of_image("postgres"), None);
    }

    #[test]
    fn changing_the_running_postgres_major_is_refused() {
        let cr = sample("minimal.yaml");
        assert_eq!(validate_transition(&cr, Some("16")), Ok(()));
        let err = validate_transition(&cr, Some("15")).err();
        assert_eq!(err.map(|e| e.message), Some(RULE_POSTGRES_MAJOR_IMMUTABLE));
    }

    /// The mirror agrees with the CEL rules on each invalid sample that parses into the types.
    #[test]
    fn invalid_samples_fail_with_the_cel_message() {
        for (file, message) in crate::testing::INVALID_CEL_SAMPLES {
            let value = invalid_sample_value(file);
            let cr: TooGoodToGo = match serde_json::from_value(value) {
                Ok(cr) => cr,
                Err(err) => panic!("{file} should parse: {err}"),
            };
            let errors = validate(&cr).err().unwrap_or_default();
            assert!(
                errors.iter().any(|e| e.message == *message),
                "{file}: expected {message:?}, got {errors:?}"
            );
        }
    }
}
