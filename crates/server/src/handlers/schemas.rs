//! The parts of the OpenAPI document that utoipa cannot derive: the shapes the handlers
//! parse with the protocol crate (handshake, heartbeat, envelope, sealed blob, KDF
//! parameters), uuid path ids, and the error answers every operation can give (400 for
//! a bad request, 401 without a valid credential, 413/415 for bodies). Applied once to
//! the rendered document, so clients and property-based testers see exactly what the
//! server accepts.

use serde_json::{json, Value};

/// Canonical base64url without padding: unused trailing bits must be zero.
const B64U: &str =
    "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$";
/// Text without control characters (C0, DEL, C1)...
const TEXT: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// ...and, for names, with at least one character that is not a space.
const NAME: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

fn shapes() -> Value {
    let uuid = json!({ "type": "string", "format": "uuid", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" });
    let iv = json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{16}$" });
    let ct = json!({ "type": "string", "pattern": B64U, "minLength": 22 });
    let text = json!({ "type": ["string", "null"], "maxLength": 200, "pattern": TEXT,
        "description": "Short text; may not contain a secret (ocf_as_/ocf_es_)." });
    json!({
        "HandshakeRequest": {
            "description": "SPEC §2: a signed, single-use, time-windowed proof of the agent secret; with `alg: \"ed25519\"` (SPEC-identity), of the agent's identity key.",
            "type": "object",
            "additionalProperties": false,
            "required": ["agent_id", "timestamp", "signature"],
            "properties": {
                "agent_id": uuid,
                "timestamp": { "description": "Unix seconds, as decimal digits.",
                               "type": "string", "pattern": "^[0-9]{1,19}$" },
                "alg": { "description": "Absent (or `hmac`): the HMAC handshake. `ed25519`: must match the agent's identity type.",
                         "type": "string", "enum": ["hmac", "ed25519"] },
                "signature": { "description": "HMAC: hex(HMAC-SHA256(agent secret, agent_id || timestamp)). Ed25519: b64u(Ed25519(identity key, 'openclaw-fleet/handshake/v1|' + agent_id + '|' + timestamp)), verified strictly.",
                               "type": "string", "pattern": "^([0-9a-f]{64}|[A-Za-z0-9_-]{86})$" }
            }
        },
        "EnrollRequest": {
            "description": "SPEC-identity: an Ed25519 agent's public key, its single-use enrollment token and a proof that it holds the private key.",
            "type": "object",
            "additionalProperties": false,
            "required": ["agent_id", "enrollment_token", "public_key", "timestamp", "signature"],
            "properties": {
                "agent_id": uuid,
                "enrollment_token": { "type": "string", "pattern": "^ocf_et_[A-Za-z0-9_-]{43}$" },
                "public_key": { "type": "string", "pattern": "^ocf_pk_[A-Za-z0-9_-]{43}$" },
                "timestamp": { "description": "Unix seconds, as decimal digits.",
                               "type": "string", "pattern": "^[0-9]{1,19}$" },
                "signature": { "description": "b64u(Ed25519(identity key, 'openclaw-fleet/enroll/v1|' + agent_id + '|' + public_key + '|' + timestamp))",
                               "type": "string", "pattern": "^[A-Za-z0-9_-]{86}$" }
            }
        },
        "HeartbeatRequest": {
            "description": "SPEC §3. Metric names are 1-64 characters of a-z, 0-9, _; at most 32 beyond the known ones.",
            "type": "object",
            "additionalProperties": false,
            "required": ["agent_id", "status"],
            "properties": {
                "agent_id": uuid,
                "status": { "type": "string", "enum": ["healthy", "idle", "error"] },
                "metrics": {
                    "type": ["object", "null"],
                    "maxProperties": 32,
                    "propertyNames": { "pattern": "^[a-z0-9_]{1,64}$" },
                    "additionalProperties": { "type": "number", "minimum": 0 },
                    "patternProperties": { "(_usage|_percent)$": { "type": "number", "minimum": 0, "maximum": 100 } }
                },
                "config_version_applied": { "type": ["integer", "null"], "minimum": 0, "maximum": 9007199254740991_u64 },
                "version": text, "machine_id": text, "location": text, "model": text, "error": text,
                "config_delivery": {
                    "description": "Optional (after SPEC v1): `not_set_up` when the agent runs monitor-only; an unknown value is ignored.",
                    "type": ["string", "null"]
                }
            }
        },
        "Envelope": {
            "description": "SPEC §4: a config encrypted in the browser; the server cannot read it.",
            "type": "object",
            "additionalProperties": false,
            "required": ["v", "alg", "agent_id", "version", "iv", "ct"],
            "properties": {
                "v": { "type": "integer", "const": 1 },
                "alg": { "type": "string", "const": "A256GCM" },
                "agent_id": uuid,
                "version": { "type": "integer", "minimum": 1, "maximum": 9007199254740991_u64 },
                "iv": iv, "ct": ct
            }
        },
        "Sealed": {
            "description": "SPEC §5: a key_check or wrapped_secret, AES-256-GCM under the owner's wrap key.",
            "type": "object",
            "additionalProperties": false,
            "required": ["v", "alg", "iv", "ct"],
            "properties": {
                "v": { "type": "integer", "const": 1 },
                "alg": { "type": "string", "const": "A256GCM" },
                "iv": iv, "ct": ct
            }
        },
        "Kdf": {
            "description": "SPEC §5: public PBKDF2 parameters of the master key.",
            "type": "object",
            "additionalProperties": false,
            "required": ["alg", "iterations", "salt"],
            "properties": {
                "alg": { "type": "string", "const": "PBKDF2-SHA256" },
                "iterations": { "type": "integer", "minimum": 600000, "maximum": 10000000 },
                "salt": { "type": "string", "pattern": "^(?:[A-Za-z0-9_-]{4}){5}[A-Za-z0-9_-][AQgw]$" }
            }
        }
    })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": reference("ErrorBody") } } })
}

/// Points `schema.properties[field]` of a component at a shape.
fn set_property(schemas: &mut Value, component: &str, field: &str, shape: &str) {
    if let Some(p) = schemas.pointer_mut(&format!("/{component}/properties/{field}")) {
        *p = reference(shape);
    }
}

/// Completes the rendered document in place.
pub fn complete(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    if let (Some(out), Value::Object(new)) = (schemas.as_object_mut(), shapes()) {
        out.extend(new);
    }
    set_property(schemas, "PutConfig", "config", "Envelope");
    set_property(schemas, "PutWrappedSecret", "wrapped_secret", "Sealed");
    set_property(schemas, "RewrappedSecret", "wrapped_secret", "Sealed");
    if let Some(p) = schemas.pointer_mut("/PutWrappedSecret/properties/key_check") {
        let description = p["description"].clone();
        *p = json!({ "anyOf": [reference("Sealed"), { "type": "null" }], "description": description });
    }
    set_property(schemas, "PutMasterKey", "kdf", "Kdf");
    set_property(schemas, "PutMasterKey", "key_check", "Sealed");
    // Every request body is parsed with unknown fields denied.
    for name in [
        "Credentials",
        "NewFleet",
        "NewAgent",
        "AgentChanges",
        "PutConfig",
        "PutWrappedSecret",
        "PutMasterKey",
        "RewrappedSecret",
    ] {
        if let Some(schema) = schemas.get_mut(name) {
            schema["additionalProperties"] = json!(false);
        }
    }
    if let Some(props) = schemas.pointer_mut("/NewAgent/properties") {
        props["policy_profile"] =
            json!({ "type": ["string", "null"], "enum": ["dev", "ops", "exec", null] });
        props["gateway_url"] = json!({ "type": ["string", "null"], "maxLength": 500,
            "pattern": "^https?://[^\\s\\u0000-\\u001f\\u007f-\\u009f]*$" });
        props["fleet_id"] = json!({ "type": ["string", "null"], "format": "uuid",
            "description": "One of your fleets; another id is 400 invalid_request." });
    }
    if let Some(changes) = schemas.get_mut("AgentChanges") {
        changes["minProperties"] = json!(1);
        let props = &mut changes["properties"];
        props["name"] = json!({ "type": "string" });
        props["policy_profile"] = json!({ "type": "string", "enum": ["dev", "ops", "exec"] });
        props["gateway_url"] = json!({ "type": ["string", "null"], "maxLength": 500,
            "pattern": "^https?://[^\\s\\u0000-\\u001f\\u007f-\\u009f]*$",
            "description": "`null` for the agent's default gateway." });
        props["fleet_id"] = json!({ "type": ["string", "null"], "format": "uuid",
            "description": "One of your fleets (another id is 404), or `null` for none." });
    }
    for name in ["NewFleet", "NewAgent", "AgentChanges"] {
        if let Some(p) = schemas.pointer_mut(&format!("/{name}/properties/name")) {
            p["minLength"] = json!(1);
            p["maxLength"] = json!(100);
            p["pattern"] = json!(NAME);
        }
    }
    let global = doc["security"].clone();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            complete_operation(path, method, op, &global);
        }
    }
}

fn complete_operation(path: &str, method: &str, op: &mut Value, global: &Value) {
    let body = match (method, path) {
        ("post", "/api/agents/handshake") => Some("HandshakeRequest"),
        ("post", "/api/agents/enroll") => Some("EnrollRequest"),
        ("post", "/api/heartbeat") => Some("HeartbeatRequest"),
        _ => None,
    };
    if let Some(shape) = body {
        op["requestBody"]["content"]["application/json"]["schema"] = reference(shape);
        op["requestBody"]["required"] = json!(true);
    }
    let params = op.get_mut("parameters").and_then(Value::as_array_mut);
    for p in params.into_iter().flatten() {
        if p["in"] == "path" && p["name"] == "id" {
            p["schema"] = shapes()["Envelope"]["properties"]["agent_id"].clone();
        }
        // Any unsigned 64-bit count is accepted; at most 60 seconds are waited.
        if p["in"] == "query" && p["name"] == "wait" {
            p["schema"] = json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX });
        }
    }
    let secured = op
        .get("security")
        .unwrap_or(global)
        .as_array()
        .is_some_and(|s| !s.is_empty());
    let has_body = op.get("requestBody").is_some();
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| error(description));
    };
    if path.starts_with("/api/") && path != "/api/openapi.json" {
        add("400", "invalid_request: a malformed body, query or path");
    }
    if secured {
        add("401", "unauthorized: no valid session or agent token");
    }
    if has_body {
        add("413", "payload_too_large");
        add(
            "415",
            "unsupported_media_type: the body must be application/json",
        );
    }
}
