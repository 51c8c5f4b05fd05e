//! `#[db_test]` turns `async fn name(backend: Backend) { … }` into a module `name` with two
//! tests, `sqlite` and `postgres`, that run the body on each database (the PostgreSQL one is
//! skipped with a notice unless `POSTROUTE_TEST_POSTGRES_URL` is set). An attribute rather than
//! a `macro_rules!` wrapper so that rustfmt formats the bodies like any other function.
//!
//! Written on `proc_macro` alone: the item's tokens are passed through untouched (only the
//! name becomes `run`), so a failing assertion still points at its own line. The generated
//! tests name `Backend` as the test's file does (its signature needs it), through `super::*`,
//! so the macro works with whichever crate provides it.

use proc_macro::{Delimiter, Group, Ident, TokenStream, TokenTree};

/// See the crate documentation.
#[proc_macro_attribute]
pub fn db_test(arguments: TokenStream, item: TokenStream) -> TokenStream {
    if !arguments.is_empty() {
        return compile_error("#[db_test] takes no arguments");
    }
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let is_ident = |token: &TokenTree, text: &str| match token {
        TokenTree::Ident(ident) => ident.to_string() == text,
        _ => false,
    };
    let Some(at) = tokens
        .windows(2)
        .position(|pair| is_ident(&pair[0], "fn") && matches!(pair[1], TokenTree::Ident(_)))
    else {
        return compile_error("#[db_test] goes on `async fn name(backend: Backend) { … }`");
    };
    if at == 0 || !is_ident(&tokens[at - 1], "async") {
        return compile_error("#[db_test] needs an `async fn`");
    }
    let TokenTree::Ident(name) = tokens[at + 1].clone() else {
        return compile_error("#[db_test] found no function name");
    };
    tokens[at + 1] = TokenTree::Ident(Ident::new("run", name.span()));

    let mut body = parse("use super::*;");
    body.extend(tokens);
    body.extend(parse(
        r#"
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            run(Backend::Sqlite).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            if let Some(backend) = Backend::postgres_from_env() {
                run(backend).await
            }
        }
        "#,
    ));
    let mut module = parse("mod");
    module.extend([TokenTree::Ident(name), TokenTree::Group(Group::new(Delimiter::Brace, body))]);
    module
}

fn compile_error(message: &str) -> TokenStream {
    parse(&format!("compile_error!({message:?});"))
}

/// Source text of this file's own making; it always lexes.
fn parse(source: &str) -> TokenStream {
    source.parse().unwrap_or_default()
}
