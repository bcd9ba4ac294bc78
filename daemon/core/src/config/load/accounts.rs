//! `[accounts.ID]`: who may use the API and the dashboard, and what each reaches.

use super::*;

/// `[accounts.*]`.
pub(super) fn accounts(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let mut seen_tokens: HashMap<[u8; 32], String> = HashMap::new();
    for (id, a) in &raw.accounts {
        if !check_id(cx, id, "account") {
            continue;
        }
        let name = id.get_ref().clone();
        if name == LOCAL_ACCOUNT {
            cx.at(
                id,
                format!("account id `{LOCAL_ACCOUNT}` is reserved for the daemon's local token"),
                Some("choose another id".into()),
            );
            continue;
        }
        let access = match (&a.role, &a.client) {
            (Some(_), Some(c)) => {
                cx.at(
                    c,
                    format!("account `{name}` has both a role and a client"),
                    Some(
                        "staff of the company get `role`, a client's staff `client`, not both"
                            .into(),
                    ),
                );
                continue;
            }
            (None, None) => {
                cx.at(
                    id,
                    format!("account `{name}` has neither `role` nor `client`"),
                    Some(
                        "write `role = \"viewer\"` (or operator, admin) for staff, `client = \"ID\"` for a client's staff"
                            .into(),
                    ),
                );
                continue;
            }
            (Some(r), None) => match OpsRole::ALL.iter().find(|(n, _)| n == r.get_ref()) {
                Some((_, role)) => Access::Ops(*role),
                None => {
                    cx.at(
                        r,
                        format!("role: `{}` is not a role", r.get_ref()),
                        Some("use `viewer`, `operator` or `admin`".into()),
                    );
                    continue;
                }
            },
            (None, Some(c)) => {
                let client = ClientId::new(c.get_ref());
                match config.clients.get(&client) {
                    None => {
                        cx.at(
                            c,
                            format!("client: no client `{}` in [clients]", c.get_ref()),
                            None,
                        );
                        continue;
                    }
                    Some(cl) if !cl.contract.dashboard => {
                        cx.at(
                            c,
                            format!(
                                "client `{}`'s contract has no dashboard: its staff cannot have an account",
                                c.get_ref()
                            ),
                            Some(format!(
                                "set `dashboard = true` in [clients.{}]'s contract, or remove the account",
                                c.get_ref()
                            )),
                        );
                        continue;
                    }
                    Some(_) => Access::Client(client),
                }
            }
        };
        let password = a.password.as_ref().and_then(|p| {
            match argon2::PasswordHash::new(p.get_ref()) {
                Ok(h) if h.algorithm.as_str() == "argon2id" && h.hash.is_some() => {
                    Some(p.get_ref().clone())
                }
                Ok(h) => {
                    cx.at(
                        p,
                        format!(
                            "password: a `{}` hash; vigie takes argon2id hashes only",
                            h.algorithm
                        ),
                        Some("make one with `vigie passwd`".into()),
                    );
                    None
                }
                Err(_) => {
                    cx.at(
                        p,
                        "password: not an argon2id hash (`$argon2id$v=19$m=…`); the password itself never goes in the config",
                        Some("make the hash with `vigie passwd`".into()),
                    );
                    None
                }
            }
        });
        let mut tokens = Vec::new();
        for t in a.tokens.iter().flatten() {
            let Some(digest) = parse_token_digest(t.get_ref()) else {
                cx.at(
                    t,
                    "tokens: not a token digest (`sha256:` and 64 hex digits); the token itself never goes in the config",
                    Some("make a token and its digest with `vigie token`".into()),
                );
                continue;
            };
            if let Some(other) = seen_tokens.insert(digest, name.clone()) {
                cx.at(
                    t,
                    format!("tokens: this token is already given to account `{other}`"),
                    Some("make a token per account with `vigie token`".into()),
                );
                continue;
            }
            tokens.push(digest);
        }
        if a.password.is_none() && a.tokens.as_ref().is_none_or(Vec::is_empty) {
            cx.warn_at(
                id,
                format!("account `{name}` has neither a password nor a token: it cannot sign in"),
            );
        }
        let language = language(cx, a.language.as_ref(), &format!("account `{name}`"));
        config.accounts.insert(
            name.clone(),
            Account {
                id: name.clone(),
                name: a.name.clone().unwrap_or_else(|| name.clone()),
                access,
                password,
                tokens,
                language,
            },
        );
    }
}
