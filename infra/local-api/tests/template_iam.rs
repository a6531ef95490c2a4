//! Least privilege in template.yaml: no function holds a blanket policy (SAM's
//! `DynamoDBCrudPolicy`, `S3CrudPolicy`, ...) or a wildcard action or resource; object
//! writes are confined to the function's own prefix of the bucket.

use serde_yaml::Value;

const TEMPLATE: &str = include_str!("../../../template.yaml");

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml parses")
}

/// A scalar or an intrinsic (`!Sub "..."`, `!GetAtt X.Arn`) as text, for matching.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("{} {}", t.tag, text(&t.value)),
        other => format!("{other:?}"),
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(items) => items.clone(),
        Value::Null => vec![],
        one => vec![one.clone()],
    }
}

/// Every (action, resources) a function's policies allow, managed policies of this
/// template included.
fn grants(template: &Value, function: &Value) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for policy in list(&function["Properties"]["Policies"]) {
        let statements = match &policy {
            Value::Tagged(t) if t.tag == "!Ref" => {
                let name = text(&t.value);
                let managed = &template["Resources"][name.as_str()];
                assert_eq!(
                    managed["Type"], "AWS::IAM::ManagedPolicy",
                    "{name} is not a policy of this template"
                );
                managed["Properties"]["PolicyDocument"]["Statement"].clone()
            }
            Value::Mapping(m) => {
                let keys: Vec<String> = m.keys().map(text).collect();
                assert_eq!(keys, ["Statement"], "a SAM policy template: {keys:?}");
                policy["Statement"].clone()
            }
            other => panic!("a managed policy by name: {other:?}"),
        };
        for statement in list(&statements) {
            assert_eq!(statement["Effect"], "Allow");
            let resources: Vec<String> = list(&statement["Resource"]).iter().map(text).collect();
            for action in list(&statement["Action"]) {
                out.push((text(&action), resources.clone()));
            }
        }
    }
    out
}

fn functions(template: &Value) -> Vec<(String, Value)> {
    let Value::Mapping(resources) = &template["Resources"] else {
        panic!("no Resources");
    };
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (text(name), r.clone()))
        .collect()
}

#[test]
fn no_function_has_a_blanket_policy_or_a_wildcard() {
    assert!(!TEMPLATE.contains("CrudPolicy") && !TEMPLATE.contains("FullAccess"));
    let template = template();
    let functions = functions(&template);
    assert_eq!(functions.len(), 5);
    for (name, function) in &functions {
        let grants = grants(&template, function);
        assert!(!grants.is_empty(), "{name} has no policy");
        for (action, resources) in grants {
            assert!(!action.contains('*'), "{name}: wildcard action {action}");
            assert!(!resources.is_empty(), "{name}: {action} on no resource");
            for resource in resources {
                assert_ne!(resource.trim(), "*", "{name}: {action} on every resource");
            }
        }
    }
}

#[test]
fn object_access_stays_under_each_functions_prefix() {
    let template = template();
    // The jobs worker runs both kinds of job; each HTTP function keeps to its own.
    let prefixes = |name: &str| -> &[&str] {
        match name {
            "ExportsFunction" => &["exports/*"],
            "ImportsFunction" => &["imports/*"],
            "JobsFunction" => &["exports/*", "imports/*"],
            _ => &[],
        }
    };
    for (name, function) in functions(&template) {
        for (action, resources) in grants(&template, &function) {
            if !action.starts_with("s3:") || action == "s3:ListBucket" {
                continue;
            }
            let allowed = prefixes(&name);
            for resource in resources {
                assert!(
                    allowed.iter().any(|p| resource.ends_with(&format!("/{p}"))),
                    "{name}: {action} on {resource}, outside {allowed:?}"
                );
            }
        }
    }
}

#[test]
fn the_table_is_only_read_and_written_item_by_item() {
    let template = template();
    let allowed = [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
    ];
    for (name, function) in functions(&template) {
        for (action, resources) in grants(&template, &function) {
            if !action.starts_with("dynamodb:") {
                continue;
            }
            assert!(allowed.contains(&action.as_str()), "{name}: {action}");
            for resource in resources {
                assert!(
                    resource.contains("UsersTable"),
                    "{name}: {action} on {resource}"
                );
            }
        }
    }
}
