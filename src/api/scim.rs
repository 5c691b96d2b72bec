//! The SCIM 2.0 service (RFC 7643/7644) at `/scim/v2`, for an org's provisioning client
//! (Okta, Microsoft Entra ID): discovery, Users and Groups. The org comes from the SCIM token;
//! answers are `application/scim+json` and errors SCIM error documents (`http::scim_error`).
//! The protocol's rules are `domain::scim` (filters, paging, projection, PATCH); what a change
//! writes is `ops::scim`; here requests are read, the org's rows looked up, and resources
//! rendered.

use serde_json::Value;

use crate::domain::ids::{GroupId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::scim::{
    self, FilterAttr, GroupMember, MultiValue, ResourceKind, ScimError, ScimGroupResource,
    ScimUserState,
};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::ScimCaller;
use crate::http::{Ctx, Reply};
use crate::ops;
use crate::store::scim::{
    self as scim_store, GroupQuery, ScimGroupRow, ScimUserRow, Total, UserQuery,
};
use crate::store::{self, Together};

crate::routes! {
    GET "/scim/v2/ServiceProviderConfig" => scim service_provider_config;
    GET "/scim/v2/ResourceTypes" => scim resource_types;
    GET "/scim/v2/ResourceTypes/{name}" => scim resource_type;
    GET "/scim/v2/Schemas" => scim schemas;
    GET "/scim/v2/Schemas/{urn}" => scim schema;
    GET "/scim/v2/Users" => scim list_users;
    POST "/scim/v2/Users" => scim create_user;
    GET "/scim/v2/Users/{id}" => scim get_user;
    PUT "/scim/v2/Users/{id}" => scim put_user;
    PATCH "/scim/v2/Users/{id}" => scim patch_user;
    DELETE "/scim/v2/Users/{id}" => scim delete_user;
    GET "/scim/v2/Groups" => scim list_groups;
    POST "/scim/v2/Groups" => scim create_group;
    GET "/scim/v2/Groups/{id}" => scim get_group;
    PUT "/scim/v2/Groups/{id}" => scim put_group;
    PATCH "/scim/v2/Groups/{id}" => scim patch_group;
    DELETE "/scim/v2/Groups/{id}" => scim delete_group;
    POST "/scim/v2/.search" => scim search;
}

fn base_url(ctx: &Ctx) -> String {
    super::scim_tokens::base_url(&ctx.cfg)
}

/// A domain refusal as the error the pipeline renders as a SCIM error document.
fn refused(e: ScimError) -> ApiError {
    let code = match (e.scim_type, e.status) {
        (Some(t), _) => t,
        (None, 404) => return ApiError::NotFound,
        (None, _) => "invalidValue",
    };
    ApiError::problem(e.status, code, "SCIM request refused", e.detail)
}

fn not_found(what: &str) -> ApiError {
    ApiError::problem(
        404,
        "not_found",
        "Not found",
        format!("No {what} with this id."),
    )
}

fn ok(body: Value) -> Reply {
    Reply::scim(200, body)
}

pub async fn service_provider_config(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    Ok(ok(scim::service_provider_config(&base_url(ctx))))
}

pub async fn resource_types(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let list = scim::resource_types(&base_url(ctx));
    Ok(ok(scim::list_response(list.len() as u64, 1, list)))
}

pub async fn resource_type(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    scim::resource_type(&base_url(ctx), ctx.params.get("name"))
        .map(ok)
        .ok_or_else(|| not_found("resource type"))
}

pub async fn schemas(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let list = scim::schemas(&base_url(ctx));
    Ok(ok(scim::list_response(list.len() as u64, 1, list)))
}

pub async fn schema(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    scim::schema(&base_url(ctx), ctx.params.get("urn"))
        .map(ok)
        .ok_or_else(|| not_found("schema"))
}

/// Every SCIM request: the token's use and the org's last provisioning request are recorded
/// (after the response, at most once a minute), here and not at authentication, so a SCIM
/// token refused elsewhere records nothing.
fn entered(ctx: &Ctx, caller: &ScimCaller) {
    if let Some(touch) = caller.due_touch(ctx.now()) {
        let db = ctx.store().clone();
        ctx.in_background(async move {
            let _ = db.batch(touch).await;
        });
    }
}

fn acting<'a>(ctx: &'a Ctx, caller: &'a ScimCaller) -> ops::Acting<'a> {
    ops::Acting {
        org: caller.store(),
        // The client provisions as an admin would (never owner-only actions).
        role: OrgRole::Admin,
        actor: caller.actor(),
        origin: ctx.origin(),
        now: ctx.now(),
        method: Some("scim"),
    }
}

// ---- Users ----------------------------------------------------------------------------

fn entries(json: Option<&str>) -> Vec<MultiValue> {
    let list: Vec<Value> = json
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    list.iter()
        .filter_map(|e| {
            Some(MultiValue {
                value: e.get("value")?.as_str()?.to_string(),
                type_: e.get("type").and_then(Value::as_str).map(str::to_string),
                primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

/// The member as the client wrote them; for a member the client never wrote, as the account
/// shows them (their login email as `userName` and the work email).
fn user_state(row: &ScimUserRow) -> ScimUserState {
    let active = row.suspended_at.is_none();
    match &row.user_name {
        Some(user_name) => ScimUserState {
            user_name: user_name.clone(),
            given_name: row.given_name.clone().unwrap_or_default(),
            family_name: row.family_name.clone().unwrap_or_default(),
            display_name: row.display_name.clone(),
            emails: entries(row.emails.as_deref()),
            phone_numbers: entries(row.phone_numbers.as_deref()),
            active,
            external_id: row.external_id.clone(),
        },
        None => ScimUserState {
            user_name: row.email.clone(),
            given_name: row.first_name.clone(),
            family_name: row.last_name.clone(),
            display_name: None,
            emails: vec![MultiValue {
                value: row.email.clone(),
                type_: Some("work".into()),
                primary: true,
            }],
            phone_numbers: row
                .phone
                .iter()
                .map(|p| MultiValue {
                    value: p.clone(),
                    type_: Some("mobile".into()),
                    primary: false,
                })
                .collect(),
            active,
            external_id: None,
        },
    }
}

fn user_view(row: &ScimUserRow, base: &str) -> Value {
    scim::user_resource(
        &row.id.to_string(),
        &user_state(row),
        Timestamp(row.scim_created_at.unwrap_or(row.created_at)),
        Timestamp(
            row.scim_updated_at
                .unwrap_or(row.updated_at)
                .max(row.updated_at),
        ),
        base,
    )
}

/// A Users filter as the store's query; a condition no member can meet (an id that is no
/// UUID, two values for one attribute) makes it `impossible`.
fn user_query(filter: &scim::Filter) -> UserQuery {
    let mut q = UserQuery::default();
    let set = |slot: &mut Option<String>, v: &str, impossible: &mut bool| match slot {
        Some(have) if have != v => *impossible = true,
        _ => *slot = Some(v.to_string()),
    };
    for c in &filter.0 {
        match &c.attr {
            FilterAttr::UserName => set(&mut q.user_name, &c.value, &mut q.impossible),
            FilterAttr::ExternalId => set(&mut q.external_id, &c.value, &mut q.impossible),
            FilterAttr::DisplayName => set(&mut q.display_name, &c.value, &mut q.impossible),
            FilterAttr::EmailValue { .. } => {
                set(&mut q.email, &c.value.to_lowercase(), &mut q.impossible)
            }
            FilterAttr::Id => match c.value.parse::<UserId>() {
                Ok(id) if q.id.is_none_or(|have| have == id) => q.id = Some(id),
                _ => q.impossible = true,
            },
            FilterAttr::MemberValue => q.impossible = true,
        }
    }
    q
}

fn path_user(ctx: &Ctx) -> ApiResult<UserId> {
    ctx.params.get("id").parse().map_err(|_| not_found("User"))
}

async fn read_user(ctx: &Ctx, caller: &ScimCaller, id: UserId) -> ApiResult<ScimUserRow> {
    let _ = ctx;
    caller
        .store()
        .global()
        .first_of(scim_store::user_stmt(caller.store(), id)?)
        .await?
        .ok_or_else(|| not_found("User"))
}

/// A page of resources, answered as a ListResponse with each resource projected.
fn list(total: i64, paging: scim::Paging, items: Vec<Value>, ctx: &Ctx) -> Reply {
    let items: Vec<Value> = items
        .iter()
        .map(|r| scim::project(r, ctx.query("attributes"), ctx.query("excludedAttributes")))
        .collect();
    ok(scim::list_response(
        total.max(0) as u64,
        paging.start_index,
        items,
    ))
}

pub async fn list_users(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let filter = scim::parse_filter(ctx.query("filter").unwrap_or_default(), ResourceKind::User)
        .map_err(refused)?;
    let paging =
        scim::parse_paging(ctx.query("startIndex"), ctx.query("count")).map_err(refused)?;
    let q = user_query(&filter);
    let (rows, total) = users_page(&caller, &q, paging).await?;
    let base = base_url(ctx);
    Ok(list(
        total,
        paging,
        rows.iter().map(|r| user_view(r, &base)).collect(),
        ctx,
    ))
}

/// A page of rows (none asked for with `count=0`) and how many match, in one round trip.
async fn page_and_total<T: serde::de::DeserializeOwned>(
    caller: &ScimCaller,
    page: Option<store::Query<T>>,
    total: store::Query<Total>,
) -> ApiResult<(Vec<T>, i64)> {
    let mut reads = Together::default();
    let page = page.map(|q| reads.add(q));
    let total = reads.add(total);
    let results = reads.run(caller.store().global()).await?;
    let rows = match page {
        Some(t) => results.rows(t)?,
        None => Vec::new(),
    };
    Ok((rows, results.first::<Total>(total)?.map_or(0, |t| t.n)))
}

/// A page of members and how many match.
async fn users_page(
    caller: &ScimCaller,
    q: &UserQuery,
    paging: scim::Paging,
) -> ApiResult<(Vec<ScimUserRow>, i64)> {
    let store = caller.store();
    if q.names_one() {
        // At most one match (Entra's `userName eq`, Okta's `externalId eq`): one statement
        // reads it, and the page is cut from it here.
        let found = store
            .global()
            .all_of(scim_store::users_stmt(store, q, 0, 1)?)
            .await?;
        let total = found.len() as i64;
        let page = found
            .into_iter()
            .skip(paging.offset() as usize)
            .take(paging.count as usize)
            .collect();
        return Ok((page, total));
    }
    let page = (paging.count > 0)
        .then(|| {
            scim_store::users_stmt(
                store,
                q,
                i64::from(paging.offset()),
                i64::from(paging.count),
            )
        })
        .transpose()?;
    page_and_total(caller, page, scim_store::users_total_stmt(store, q)?).await
}

/// The body of a SCIM write as JSON (refused as `invalidSyntax` otherwise).
fn body(ctx: &Ctx) -> ApiResult<Value> {
    ctx.scim_json::<Value>().map_err(|e| match e {
        ApiError::UnsupportedMediaType => e,
        other => ApiError::problem(
            400,
            "invalidSyntax",
            "Not JSON",
            format!("The body is not a JSON object: {}", other.code()),
        ),
    })
}

fn created(resource: Value) -> Reply {
    let location = resource
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .map(str::to_string);
    let reply = Reply::scim(201, resource);
    match location {
        Some(l) => reply.with_location(l),
        None => reply,
    }
}

pub async fn create_user(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let state = scim::parse_user(&body(ctx)?).map_err(refused)?;
    let email = ops::scim::account_email(&state)?;
    let store = caller.store();
    let mut reads = Together::default();
    let settings = reads.add(scim_store::settings_stmt(store)?);
    let standing = reads.add(store::invitations::invitee_standing_stmt(store, &email)?);
    let taken = reads.add(scim_store::users_total_stmt(
        store,
        &UserQuery {
            user_name: Some(state.user_name.clone()),
            ..UserQuery::default()
        },
    )?);
    let results = reads.run(store.global()).await?;
    if results.first::<Total>(taken)?.is_some_and(|t| t.n > 0) {
        return Err(ApiError::problem(
            409,
            "uniqueness",
            "Already provisioned",
            format!(
                "A member of the organization already has the userName {:?}.",
                state.user_name
            ),
        ));
    }
    let settings = results
        .first::<scim_store::SettingsRow>(settings)?
        .ok_or_else(|| ApiError::internal("the settings read returned no row"))?;
    let standing = results.first(standing)?.unwrap_or_default();
    let role = OrgRole::parse(&settings.default_role).unwrap_or(OrgRole::Viewer);
    let activation = match (
        super::scim_tokens::activation(&settings),
        settings.sso_connection,
    ) {
        ("sso", Some(connection)) => ops::scim::Activation::Sso(connection),
        _ => ops::scim::Activation::Email,
    };
    let acting = acting(ctx, &caller);
    let provisioned = ops::scim::provision(&acting, &ctx.cfg, &state, role, activation, &standing)?;
    let row: ScimUserRow = store
        .global()
        .batch_then_first(
            provisioned.batch,
            scim_store::user_stmt(store, provisioned.user)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("the provisioned member vanished"))?;
    ctx.enqueue_mail(provisioned.mails).await;
    Ok(created(user_view(&row, &base_url(ctx))))
}

pub async fn get_user(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let row = read_user(ctx, &caller, path_user(ctx)?).await?;
    let view = user_view(&row, &base_url(ctx));
    Ok(ok(scim::project(
        &view,
        ctx.query("attributes"),
        ctx.query("excludedAttributes"),
    )))
}

/// Writes the member's new state (`ops::scim::update`) and answers the resource.
async fn save_user(
    ctx: &Ctx,
    caller: &ScimCaller,
    row: &ScimUserRow,
    wanted: &ScimUserState,
) -> ApiResult<Reply> {
    let was = user_state(row);
    let batch = ops::scim::update(&acting(ctx, caller), row, &was, wanted)?;
    let store = caller.store();
    let row = if batch.is_empty() {
        row.clone()
    } else {
        store
            .global()
            .batch_then_first(batch, scim_store::user_stmt(store, row.id)?)
            .await?
            .ok_or_else(|| not_found("User"))?
    };
    Ok(ok(user_view(&row, &base_url(ctx))))
}

pub async fn put_user(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let body = body(ctx)?;
    let row = read_user(ctx, &caller, path_user(ctx)?).await?;
    let wanted = scim::parse_user_put(&body, &user_state(&row)).map_err(refused)?;
    save_user(ctx, &caller, &row, &wanted).await
}

pub async fn patch_user(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let request = scim::parse_patch(&body(ctx)?, ResourceKind::User).map_err(refused)?;
    let row = read_user(ctx, &caller, path_user(ctx)?).await?;
    let wanted = scim::apply_user_patch(&user_state(&row), &request.ops).map_err(refused)?;
    save_user(ctx, &caller, &row, &wanted).await
}

pub async fn delete_user(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let row = read_user(ctx, &caller, path_user(ctx)?).await?;
    let acting = acting(ctx, &caller);
    let store = caller.store().global();
    // The org's own account goes with the membership when no other org holds it; the batch's
    // guard says whether one does (then only the membership goes).
    match store
        .batch(ops::scim::deprovision(&acting, &row, true)?)
        .await
    {
        Ok(_) => {}
        Err(ApiError::GuardFailed) if row.managed != 0 => {
            store
                .batch(ops::scim::deprovision(&acting, &row, false)?)
                .await
                .map_err(|e| e.on_guard(not_found("User")))?;
        }
        Err(e) => return Err(e.on_guard(not_found("User"))),
    }
    Ok(Reply::no_content())
}

// ---- Groups ---------------------------------------------------------------------------

fn group_view(row: &ScimGroupRow, with_members: bool, base: &str) -> Value {
    let members: Vec<GroupMember> = if with_members {
        serde_json::from_str::<Vec<Value>>(&row.members_json)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                Some(GroupMember {
                    user_id: m.get("value")?.as_str()?.to_string(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    scim::group_resource(
        &row.id.to_string(),
        &ScimGroupResource {
            display_name: &row.name,
            external_id: row.external_id.as_deref(),
            members: with_members.then_some(&members[..]),
        },
        Timestamp(row.created_at),
        Timestamp(row.updated_at),
        base,
    )
}

fn group_query(filter: &scim::Filter) -> GroupQuery {
    let mut q = GroupQuery::default();
    for c in &filter.0 {
        match &c.attr {
            FilterAttr::Id => match c.value.parse::<GroupId>() {
                Ok(id) if q.id.is_none_or(|have| have == id) => q.id = Some(id),
                _ => q.impossible = true,
            },
            FilterAttr::DisplayName => match &q.display_name {
                Some(have) if !have.eq_ignore_ascii_case(&c.value) => q.impossible = true,
                _ => q.display_name = Some(c.value.clone()),
            },
            FilterAttr::ExternalId => match &q.external_id {
                Some(have) if *have != c.value => q.impossible = true,
                _ => q.external_id = Some(c.value.clone()),
            },
            FilterAttr::MemberValue => match c.value.parse::<UserId>() {
                Ok(id) if q.member.is_none_or(|have| have == id) => q.member = Some(id),
                _ => q.impossible = true,
            },
            _ => q.impossible = true,
        }
    }
    q
}

fn with_members(ctx: &Ctx) -> bool {
    !scim::excludes(
        ctx.query("attributes"),
        ctx.query("excludedAttributes"),
        "members",
    )
}

fn path_group(ctx: &Ctx) -> ApiResult<GroupId> {
    ctx.params.get("id").parse().map_err(|_| not_found("Group"))
}

async fn read_group(caller: &ScimCaller, id: GroupId, members: bool) -> ApiResult<ScimGroupRow> {
    let store = caller.store();
    let q = GroupQuery {
        id: Some(id),
        ..GroupQuery::default()
    };
    store
        .global()
        .first_of(scim_store::groups_stmt(store, &q, members, 0, 1)?)
        .await?
        .ok_or_else(|| not_found("Group"))
}

pub async fn list_groups(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let filter = scim::parse_filter(ctx.query("filter").unwrap_or_default(), ResourceKind::Group)
        .map_err(refused)?;
    let paging =
        scim::parse_paging(ctx.query("startIndex"), ctx.query("count")).map_err(refused)?;
    let q = group_query(&filter);
    let members = with_members(ctx);
    let (rows, total) = groups_page(&caller, &q, members, paging).await?;
    let base = base_url(ctx);
    Ok(list(
        total,
        paging,
        rows.iter().map(|r| group_view(r, members, &base)).collect(),
        ctx,
    ))
}

async fn groups_page(
    caller: &ScimCaller,
    q: &GroupQuery,
    members: bool,
    paging: scim::Paging,
) -> ApiResult<(Vec<ScimGroupRow>, i64)> {
    let store = caller.store();
    let page = (paging.count > 0)
        .then(|| {
            scim_store::groups_stmt(
                store,
                q,
                members,
                i64::from(paging.offset()),
                i64::from(paging.count),
            )
        })
        .transpose()?;
    page_and_total(caller, page, scim_store::groups_total_stmt(store, q)?).await
}

/// The statements that make the group's members what the change says: members that are no
/// user of the org are ignored (clients send ids of people not provisioned yet).
fn member_statements(
    acting: &ops::Acting,
    group: GroupId,
    change: &scim::MemberChange,
) -> ApiResult<Vec<store::Stmt>> {
    let mut stmts = Vec::new();
    if change.replace_all {
        stmts.push(scim_store::clear_group(acting.org, group)?);
    }
    for id in &change.remove {
        if let Ok(user) = id.parse::<UserId>() {
            stmts.push(store::groups::remove_member(acting.org, group, user)?);
        }
    }
    for id in &change.add {
        if let Ok(user) = id.parse::<UserId>() {
            stmts.extend(store::groups::add_member(
                acting.org, group, user, acting.now,
            )?);
        }
    }
    Ok(stmts)
}

/// The roles of provisioned members whose groups changed: the highest role the settings'
/// group → role map gives their groups' names (case-insensitively), else the default role;
/// never the owner's, and nothing when the org maps no groups. Each change is audited.
async fn remap_roles(ctx: &Ctx, caller: &ScimCaller, users: &[UserId]) -> ApiResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let store = caller.store();
    let mut reads = Together::default();
    let settings = reads.add(scim_store::settings_stmt(store)?);
    let members = reads.add(scim_store::member_groups_stmt(store, users)?);
    let results = reads.run(store.global()).await?;
    let Some(settings) = results.first::<scim_store::SettingsRow>(settings)? else {
        return Ok(());
    };
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&settings.group_role_map).unwrap_or_default();
    if map.is_empty() {
        return Ok(());
    }
    let map: std::collections::BTreeMap<String, OrgRole> = map
        .iter()
        .filter_map(|(k, v)| Some((k.to_lowercase(), OrgRole::parse(v)?)))
        .collect();
    let default = OrgRole::parse(&settings.default_role).unwrap_or(OrgRole::Viewer);
    let acting = acting(ctx, caller);
    let mut batch = Vec::new();
    for m in results.rows::<scim_store::MemberGroups>(members)? {
        if m.provisioned == 0 || m.role == OrgRole::Owner {
            continue;
        }
        let groups: Vec<String> = serde_json::from_str::<Vec<String>>(&m.groups)
            .unwrap_or_default()
            .iter()
            .map(|g| g.to_lowercase())
            .collect();
        let wanted = crate::domain::sso::mapped_role(&groups, &map, default);
        if wanted != m.role {
            batch.push(store::members::set_role(store, m.user_id, wanted)?);
            batch.push(
                acting.audit(
                    &acting
                        .event("member.role_changed", ("user", m.user_id.to_string()))
                        .meta(crate::object!({
                            "from": m.role,
                            "to": wanted,
                            "reason": "scim_group",
                        })),
                )?,
            );
        }
    }
    if !batch.is_empty() {
        store.global().batch(batch).await?;
    }
    Ok(())
}

/// The user ids among a change's member values.
fn user_ids(values: &[String]) -> Vec<UserId> {
    values.iter().filter_map(|v| v.parse().ok()).collect()
}

/// The members a group holds (as read with it).
fn members_of(row: &ScimGroupRow) -> Vec<UserId> {
    serde_json::from_str::<Vec<Value>>(&row.members_json)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("value")?.as_str()?.parse().ok())
        .collect()
}

pub async fn create_group(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let group = scim::parse_group(&body(ctx)?).map_err(refused)?;
    let acting = acting(ctx, &caller);
    let id = GroupId::new();
    let now = ctx.now();
    let mut batch = vec![
        store::groups::insert(
            acting.org,
            id,
            &store::groups::GroupFields {
                name: &group.display_name,
                description: None,
                restrictions: "[]",
                restricting: false,
            },
            now,
        )?,
        scim_store::set_group_external(acting.org, id, group.external_id.as_deref())?,
        acting.audit(
            &acting
                .event("group.created", ("group", id.to_string()))
                .meta(crate::object!({ "name": group.display_name })),
        )?,
    ];
    batch.extend(member_statements(
        &acting,
        id,
        &scim::MemberChange {
            replace_all: false,
            add: group.members.clone(),
            remove: Vec::new(),
        },
    )?);
    let store = caller.store();
    let row = store
        .global()
        .batch_then_first(
            batch,
            scim_store::groups_stmt(
                store,
                &GroupQuery {
                    id: Some(id),
                    ..GroupQuery::default()
                },
                true,
                0,
                1,
            )?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("the new group vanished"))?;
    remap_roles(ctx, &caller, &members_of(&row)).await?;
    Ok(created(group_view(&row, true, &base_url(ctx))))
}

pub async fn get_group(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let members = with_members(ctx);
    let row = read_group(&caller, path_group(ctx)?, members).await?;
    let view = group_view(&row, members, &base_url(ctx));
    Ok(ok(scim::project(
        &view,
        ctx.query("attributes"),
        ctx.query("excludedAttributes"),
    )))
}

/// Applies a group change (name, client id, members) and answers the group; the roles of
/// the members it touched (and of all of them when it was renamed) follow the settings' map.
async fn save_group(
    ctx: &Ctx,
    caller: &ScimCaller,
    row: &ScimGroupRow,
    change: &scim::GroupChange,
) -> ApiResult<Reply> {
    // Who was in it before, when the change replaces or renames it (only then is the whole
    // list read: Entra adds one member at a time to groups of any size).
    let before = if change.members.replace_all || change.display_name != row.name {
        members_of(&read_group(caller, row.id, true).await?)
    } else {
        Vec::new()
    };
    let acting = acting(ctx, caller);
    let now = ctx.now();
    let mut batch = Vec::new();
    if change.display_name != row.name {
        batch.push(scim_store::rename_group(
            acting.org,
            row.id,
            &change.display_name,
            now,
        )?);
    }
    if change.external_id != row.external_id {
        batch.push(scim_store::set_group_external(
            acting.org,
            row.id,
            change.external_id.as_deref(),
        )?);
    }
    batch.extend(member_statements(&acting, row.id, &change.members)?);
    if !batch.is_empty() {
        batch.push(
            acting.audit(
                &acting
                    .event("group.updated", ("group", row.id.to_string()))
                    .meta(crate::object!({
                        "name": change.display_name,
                        "members_added": change.members.add.len(),
                        "members_removed": change.members.remove.len(),
                        "members_replaced": change.members.replace_all,
                    })),
            )?,
        );
    }
    let store = caller.store();
    let q = GroupQuery {
        id: Some(row.id),
        ..GroupQuery::default()
    };
    let row = store
        .global()
        .batch_then_first(batch, scim_store::groups_stmt(store, &q, true, 0, 1)?)
        .await?
        .ok_or_else(|| not_found("Group"))?;
    let mut touched = before;
    touched.extend(user_ids(&change.members.add));
    touched.extend(user_ids(&change.members.remove));
    if change.display_name != row.name || change.members.replace_all {
        touched.extend(members_of(&row));
    }
    touched.sort_by_key(|u| u.to_string());
    touched.dedup();
    remap_roles(ctx, caller, &touched).await?;
    Ok(ok(group_view(&row, true, &base_url(ctx))))
}

pub async fn put_group(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let group = scim::parse_group(&body(ctx)?).map_err(refused)?;
    let row = read_group(&caller, path_group(ctx)?, false).await?;
    let change = scim::GroupChange {
        display_name: group.display_name,
        external_id: group.external_id,
        members: scim::MemberChange {
            replace_all: true,
            add: group.members,
            remove: Vec::new(),
        },
    };
    save_group(ctx, &caller, &row, &change).await
}

pub async fn patch_group(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let request = scim::parse_patch(&body(ctx)?, ResourceKind::Group).map_err(refused)?;
    let row = read_group(&caller, path_group(ctx)?, false).await?;
    let change = scim::apply_group_patch(&row.name, row.external_id.as_deref(), &request.ops)
        .map_err(refused)?;
    save_group(ctx, &caller, &row, &change).await
}

pub async fn delete_group(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let row = read_group(&caller, path_group(ctx)?, true).await?;
    let acting = acting(ctx, &caller);
    let mut batch = store::groups::delete(acting.org, row.id)?;
    batch.push(
        acting.audit(
            &acting
                .event("group.deleted", ("group", row.id.to_string()))
                .meta(crate::object!({ "name": row.name })),
        )?,
    );
    caller.store().global().batch(batch).await?;
    remap_roles(ctx, &caller, &members_of(&row)).await?;
    Ok(Reply::no_content())
}

// ---- Search ---------------------------------------------------------------------------

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users and Groups together, with the body's
/// `filter`, `attributes`, `excludedAttributes`, `startIndex` and `count`. Users come first.
pub async fn search(ctx: &Ctx, caller: ScimCaller) -> ApiResult<Reply> {
    entered(ctx, &caller);
    let body = body(ctx)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let names = |k: &str| match body.get(k) {
        Some(Value::Array(list)) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let number = |k: &str| {
        body.get(k)
            .map(|v| v.to_string().trim_matches('"').to_string())
    };
    let paging = scim::parse_paging(number("startIndex").as_deref(), number("count").as_deref())
        .map_err(refused)?;
    let filter = text("filter").unwrap_or_default();
    let (attributes, excluded) = (names("attributes"), names("excludedAttributes"));
    let base = base_url(ctx);
    // Users then groups, as one list: the page is cut from their concatenation.
    let users_q = match scim::parse_filter(&filter, ResourceKind::User) {
        Ok(f) => Some(user_query(&f)),
        Err(_) if !filter.is_empty() => None,
        Err(e) => return Err(refused(e)),
    };
    let groups_q = match scim::parse_filter(&filter, ResourceKind::Group) {
        Ok(f) => Some(group_query(&f)),
        Err(_) if !filter.is_empty() => None,
        Err(e) => return Err(refused(e)),
    };
    if users_q.is_none() && groups_q.is_none() {
        return Err(refused(
            scim::parse_filter(&filter, ResourceKind::User)
                .err()
                .unwrap_or_else(|| {
                    ScimError::invalid_filter("the filter applies to neither Users nor Groups")
                }),
        ));
    }
    let all = scim::Paging {
        start_index: 1,
        count: scim::MAX_RESULTS,
    };
    let (users, users_total) = match &users_q {
        Some(q) => users_page(&caller, q, all).await?,
        None => (Vec::new(), 0),
    };
    let members = !scim::excludes(attributes.as_deref(), excluded.as_deref(), "members");
    let (groups, groups_total) = match &groups_q {
        Some(q) => groups_page(&caller, q, members, all).await?,
        None => (Vec::new(), 0),
    };
    let items: Vec<Value> = users
        .iter()
        .map(|r| user_view(r, &base))
        .chain(groups.iter().map(|r| group_view(r, members, &base)))
        .skip(paging.offset() as usize)
        .take(paging.count as usize)
        .map(|r| scim::project(&r, attributes.as_deref(), excluded.as_deref()))
        .collect();
    Ok(ok(scim::list_response(
        (users_total + groups_total).max(0) as u64,
        paging.start_index,
        items,
    )))
}
