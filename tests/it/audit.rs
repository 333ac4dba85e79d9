//! The audit log: every change through either API is recorded with its
//! actor, request id and changed fields, in its own transaction; failed
//! attempts leave nothing; no record holds a secret or a hash.

use crate::common::{
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, ROOT_KEY, Request, TestResponse, TestServer,
};
use crate::sinch::basic;
use base64::Engine;
use keyward::storage::{AuditQuery, AuditRow};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn unkey(server: &TestServer, path: &str, body: Value) -> TestResponse {
    server
        .send(
            Api::Unkey,
            Request::post(path)
                .header("authorization", format!("Bearer {ROOT_KEY}"))
                .json(&body),
        )
        .await
}

async fn sinch(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> TestResponse {
    let mut request =
        Request::new(method, path).header("authorization", basic(ACCESS_KEY_ID, ACCESS_KEY_SECRET));
    if let Some(body) = body {
        request = request.json(&body);
    }
    server.send(Api::Sinch, request).await
}

/// The request id a change is recorded under: Unkey's header, or dropshot's
/// `x-request-id` in Unkey's format.
fn request_id(response: &TestResponse) -> String {
    match response.header("unkey-request-id") {
        Some(id) => id.to_string(),
        None => format!(
            "req_{}",
            response
                .header("x-request-id")
                .expect("a request id")
                .replace('-', "")
        ),
    }
}

/// Every record, oldest first.
async fn records(server: &TestServer) -> Vec<AuditRow> {
    let query = AuditQuery {
        limit: 10_000,
        ..AuditQuery::default()
    };
    let mut rows = server.storage().list_audit(&query).await.expect("audit");
    rows.reverse();
    rows
}

fn summary(row: &AuditRow) -> Value {
    serde_json::from_str(&row.summary).expect("a JSON summary")
}

#[tokio::test]
async fn every_change_through_the_apis_is_recorded_once_with_its_actor_and_request() {
    let server = TestServer::start().await;
    let bootstrap = server.bootstrap();
    let (workspace, root_key_id) = (&bootstrap.unkey.workspace_id, &bootstrap.unkey.root_key_id);
    let project = &bootstrap.sinch.project_id;
    let already = records(&server).await.len();

    let created_api = unkey(&server, "/v1/apis.createApi", json!({"name": "audited"})).await;
    let api_id = created_api.body["apiId"].as_str().expect("api").to_string();
    let created_key = unkey(
        &server,
        "/v1/keys.createKey",
        json!({"apiId": api_id, "name": "first", "ownerId": "user_1",
               "meta": {"plan": "pro"}, "remaining": 10}),
    )
    .await;
    let key_id = created_key.body["keyId"].as_str().expect("key").to_string();
    let updated = unkey(
        &server,
        "/v1/keys.updateKey",
        json!({"keyId": key_id, "name": null, "enabled": false}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let remaining = unkey(
        &server,
        "/v1/keys.updateRemaining",
        json!({"keyId": key_id, "op": "increment", "value": 5}),
    )
    .await;
    assert_eq!(remaining.status, 200, "{}", remaining.body);
    // A verification is not a change.
    let key = created_key.body["key"].as_str().expect("key").to_string();
    unkey(&server, "/v1/keys.verifyKey", json!({"key": key})).await;
    let deleted_key = unkey(&server, "/v1/keys.deleteKey", json!({"keyId": key_id})).await;
    assert_eq!(deleted_key.status, 200);
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"sk_migrated_001"));
    let migrated = unkey(
        &server,
        "/v1/migrations.createKeys",
        json!([{"apiId": api_id, "hash": {"value": hash, "variant": "sha256_base64"},
                "start": "sk_migr", "name": "migrated"}]),
    )
    .await;
    assert_eq!(migrated.status, 200, "{}", migrated.body);
    let migrated_id = migrated.body["keyIds"][0].as_str().expect("id").to_string();
    let deleted_api = unkey(&server, "/v1/apis.deleteApi", json!({"apiId": api_id})).await;
    assert_eq!(deleted_api.status, 200);

    let keys_path = format!("/v1/projects/{project}/accessKeys");
    let created_access_key = sinch(
        &server,
        "POST",
        &keys_path,
        Some(json!({"displayName": "ci"})),
    )
    .await;
    assert_eq!(
        created_access_key.status, 200,
        "{}",
        created_access_key.body
    );
    let access_key_id = created_access_key.body["accessKey"]["accessKeyId"]
        .as_str()
        .expect("id")
        .to_string();
    let key_path = format!("{keys_path}/{access_key_id}");
    let patched = sinch(
        &server,
        "PATCH",
        &key_path,
        Some(json!({"displayName": "ci-2"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let deleted_access_key = sinch(&server, "DELETE", &key_path, None).await;
    assert_eq!(deleted_access_key.status, 200);

    let rows = records(&server).await;
    let rows = &rows[already..];
    let seen: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.target.as_str(), r.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("api.create", api_id.as_str(), root_key_id.as_str()),
            ("key.create", &key_id, root_key_id),
            ("key.update", &key_id, root_key_id),
            ("key.update_remaining", &key_id, root_key_id),
            ("key.delete", &key_id, root_key_id),
            ("key.migrate", &migrated_id, root_key_id),
            ("api.delete", &api_id, root_key_id),
            ("access_key.create", &access_key_id, ACCESS_KEY_ID),
            ("access_key.update", &access_key_id, ACCESS_KEY_ID),
            ("access_key.delete", &access_key_id, ACCESS_KEY_ID),
        ]
    );
    let responses = [
        &created_api,
        &created_key,
        &updated,
        &remaining,
        &deleted_key,
        &migrated,
        &deleted_api,
        &created_access_key,
        &patched,
        &deleted_access_key,
    ];
    for (row, response) in rows.iter().zip(responses) {
        assert_eq!(
            row.request_id.as_deref(),
            Some(request_id(response).as_str())
        );
        let scope = if row.action.starts_with("access_key") {
            (None, Some(project.as_str()))
        } else {
            (Some(workspace.as_str()), None)
        };
        assert_eq!(
            (row.workspace_id.as_deref(), row.project_id.as_deref()),
            scope,
            "{}",
            row.action
        );
        assert!(row.at_ms > 0);
    }
    // The fields that changed, with values that are not secret; meta's
    // values are the customer's, so only its field names.
    assert_eq!(
        summary(&rows[1]),
        json!({"apiId": api_id, "name": "first", "ownerId": "user_1", "meta": ["plan"],
               "remaining": 10, "enabled": true, "byteLength": 16})
    );
    assert_eq!(summary(&rows[2]), json!({"name": null, "enabled": false}));
    assert_eq!(summary(&rows[3]), json!({"op": "increment", "value": 5}));
    assert_eq!(summary(&rows[5])["name"], "migrated");
    assert_eq!(summary(&rows[8]), json!({"displayName": "ci-2"}));
    server.shutdown().await;
}

#[tokio::test]
async fn failed_attempts_leave_no_record() {
    let server = TestServer::start().await;
    let api_id = unkey(&server, "/v1/apis.createApi", json!({"name": "audited"}))
        .await
        .body["apiId"]
        .as_str()
        .expect("api")
        .to_string();
    let already = records(&server).await.len();

    // Unauthenticated, and a root key without the permission.
    let refused = server
        .send(
            Api::Unkey,
            Request::post("/v1/keys.createKey")
                .header("authorization", "Bearer wrong")
                .json(&json!({"apiId": api_id})),
        )
        .await;
    assert_eq!(refused.status, 401);
    // Refused in the change's own transaction: a role that does not exist,
    // and a migration batch whose second item is a duplicate.
    let missing_role = unkey(
        &server,
        "/v1/keys.createKey",
        json!({"apiId": api_id, "roles": ["nobody"]}),
    )
    .await;
    assert_eq!(missing_role.status, 400, "{}", missing_role.body);
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"sk_twice_0001"));
    let item = json!({"apiId": api_id, "hash": {"value": hash, "variant": "sha256_base64"},
                      "start": "sk_twic"});
    let imported = unkey(&server, "/v1/migrations.createKeys", json!([item])).await;
    assert_eq!(imported.status, 200);
    let after_import = records(&server).await.len();
    let duplicate = unkey(
        &server,
        "/v1/migrations.createKeys",
        json!([
            {"apiId": api_id, "hash": {"value": base64::engine::general_purpose::STANDARD
                .encode(Sha256::digest(b"sk_fresh_0001")), "variant": "sha256_base64"},
             "start": "sk_fres"},
            item
        ]),
    )
    .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    // Nothing to change: no such key.
    let missing = unkey(&server, "/v1/keys.deleteKey", json!({"keyId": "key_nope"})).await;
    assert_eq!(missing.status, 404);
    let other_project = sinch(
        &server,
        "DELETE",
        "/v1/projects/not-mine/accessKeys/whatever",
        None,
    )
    .await;
    assert_eq!(other_project.status, 403);

    let rows = records(&server).await;
    assert_eq!(after_import, already + 1, "the import's one record");
    assert_eq!(
        rows.len(),
        after_import,
        "no record for a failed attempt: {:?}",
        &rows[after_import..]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_record_holds_a_secret_or_a_hash() {
    let server = TestServer::start().await;
    let bootstrap = server.bootstrap();
    let project = bootstrap.sinch.project_id.clone();
    let mut secrets: Vec<String> = vec![
        ROOT_KEY.to_string(),
        ACCESS_KEY_SECRET.to_string(),
        bootstrap.unkey.root_key.clone(),
        bootstrap.sinch.secret.clone(),
    ];
    let api_id = unkey(&server, "/v1/apis.createApi", json!({"name": "secrets"}))
        .await
        .body["apiId"]
        .as_str()
        .expect("api")
        .to_string();
    for body in [
        json!({"apiId": api_id, "prefix": "sk", "name": "a"}),
        json!({"apiId": api_id, "meta": {"password": "hunter2-meta-value"}}),
    ] {
        let created = unkey(&server, "/v1/keys.createKey", body).await;
        secrets.push(created.body["key"].as_str().expect("key").to_string());
    }
    secrets.push("hunter2-meta-value".to_string());
    let migrated_plaintext = "sk_migrated_secret_0001";
    let migrated_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(migrated_plaintext));
    unkey(
        &server,
        "/v1/migrations.createKeys",
        json!([{"apiId": api_id, "hash": {"value": migrated_hash, "variant": "sha256_base64"},
                "start": "sk_migr"}]),
    )
    .await;
    secrets.push(migrated_plaintext.to_string());
    secrets.push(migrated_hash);
    let created = sinch(
        &server,
        "POST",
        &format!("/v1/projects/{project}/accessKeys"),
        Some(json!({"displayName": "secretive"})),
    )
    .await;
    secrets.push(created.body["secret"].as_str().expect("secret").to_string());
    let token = server
        .http
        .post(format!("{}/oauth2/token", server.base_url))
        .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json::<Value>()
        .await
        .expect("JSON");
    secrets.push(token["access_token"].as_str().expect("token").to_string());
    // Each secret's hash too, as keyward stores it (hex and base64).
    let hashes: Vec<String> = secrets
        .iter()
        .flat_map(|s| {
            let digest = Sha256::digest(s.as_bytes());
            [
                digest
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                base64::engine::general_purpose::STANDARD.encode(digest),
            ]
        })
        .collect();

    let rows = records(&server).await;
    assert!(rows.len() >= 8, "{rows:?}");
    let table = serde_json::to_string(&rows).expect("JSON");
    for secret in secrets.iter().chain(&hashes) {
        assert!(
            !table.contains(secret.as_str()),
            "the audit log holds {secret}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn pruning_deletes_only_records_past_the_retention() {
    let server = TestServer::start().await;
    let storage = server.storage();
    let now = server.clock_secs() * 1000;
    let day = 86_400_000;
    unkey(&server, "/v1/apis.createApi", json!({"name": "old"})).await;
    let old = records(&server).await.len();
    assert!(old >= 5, "bootstrap and createApi: {old}");
    // 50 days later, one more change.
    server.clock.advance_ms(50 * day);
    let kept = unkey(&server, "/v1/apis.createApi", json!({"name": "recent"})).await;
    let kept_id = kept.body["apiId"].as_str().expect("api").to_string();

    let retention = std::time::Duration::from_secs(90 * 86_400);
    let prune = |at_ms| keyward::domain::audit::prune(&storage, at_ms, retention);
    assert_eq!(
        prune(now + 50 * day).await.expect("pruned"),
        0,
        "nothing is 90 days old yet"
    );
    assert_eq!(
        prune(now + 91 * day).await.expect("pruned"),
        old as u64,
        "the records of the first day"
    );
    let left: Vec<(String, String)> = records(&server)
        .await
        .into_iter()
        .map(|r| (r.action, r.target))
        .collect();
    assert_eq!(
        left,
        [("api.create".to_string(), kept_id)],
        "the recent one stays"
    );
    server.shutdown().await;
}

/// Creates wait to be committed together (one transaction for the group).
/// A key that fails in its group fails alone: the group is tried again key
/// by key, and only the others, with their records, go in.
#[tokio::test]
async fn a_key_that_fails_in_its_group_commit_fails_alone() {
    use keyward::storage::{InsertKey, NewKey};
    let server = TestServer::start().await;
    let api_id = unkey(&server, "/v1/apis.createApi", json!({"name": "grouped"}))
        .await
        .body["apiId"]
        .as_str()
        .expect("api")
        .to_string();
    let workspace = server.bootstrap().unkey.workspace_id.clone();
    let storage = server.storage();
    let already = records(&server).await.len();
    let ids: Vec<String> = (0..40).map(|i| format!("key_grouped_{i:02}")).collect();
    // Key 7 has key 3's hash: the database refuses it.
    let hashes: Vec<[u8; 32]> = (0..40u8)
        .map(|i| Sha256::digest([if i == 7 { 3 } else { i }]).into())
        .collect();
    let inserts = ids.iter().zip(&hashes).map(|(id, hash)| {
        let storage = storage.clone();
        let (workspace, api_id) = (workspace.clone(), api_id.clone());
        async move {
            let key = NewKey::plain(id, &workspace, &api_id, hash, "sk_grp", 1);
            let record = keyward::domain::audit::record(
                keyward::domain::audit::Actor::CLI,
                1,
                "key.create",
                id,
                keyward::domain::audit::Scope::Workspace(&workspace),
                keyward::domain::audit::Summary::new(),
            );
            storage.insert_key(&key, &record).await
        }
    });
    let results = futures::future::join_all(inserts).await;
    let refused: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| !matches!(r, Ok(InsertKey::Inserted)))
        .map(|(i, _)| i)
        .collect();
    // Key 3 or key 7, whichever came second, is the one refused.
    assert_eq!(refused.len(), 1, "{results:?}");
    assert!(matches!(refused[0], 3 | 7), "{refused:?}");
    assert!(
        results[refused[0]]
            .as_ref()
            .is_err_and(|e| e.is_unique_violation())
    );
    let targets: Vec<String> = records(&server).await[already..]
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(targets.len(), 39, "one record per key inserted");
    assert!(!targets.contains(&ids[refused[0]]));
    server.shutdown().await;
}
