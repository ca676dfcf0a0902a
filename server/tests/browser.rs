//! The office → approver → branch journey in headless Chromium, driven
//! over WebDriver (fantoccini + chromedriver) against the real demo: the
//! server on SQLite, the embedded broker and the in-process demo agents.
//!
//! An editor uploads two posters and a warning text, builds a playlist and
//! schedules it on one bank branch; an approver approves all of it and sees
//! the branch's door screen pick the new rotation up; the branch user sees
//! only their branch, confirms a screen and downloads the CSV report.
//! On the way the admin disables (the clerk's login says so), enables and
//! resets a user, and the editor's typo in the hours is said in Chinese.
//! Screenshots of the main pages go to `target/tmp/browser-screenshots/`.
//!
//! `LEDCAST_TEST_CHROMEDRIVER=/usr/bin/chromedriver` makes the test required
//! (it fails when it cannot run); without it, and without a chromedriver on
//! the PATH, it says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use ledcast_server::demo::{self, DemoArgs};
use ledcast_server::store::{NewUser, Role};
use ledcast_server::web::Lang;

const BRANCH_SITE: &str = "icbc-gaogang";
const DOOR_SCREEN: &str = "icbc-door";
const PLAYLIST_ID: &str = "e2e-branch-loop";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The chromedriver to use, or `None` when the test may be skipped.
fn chromedriver() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("LEDCAST_TEST_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        println!(
            "browser test skipped: no chromedriver (set LEDCAST_TEST_CHROMEDRIVER to require it)"
        );
    }
    found
}

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_browser(chromedriver: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        // Under tests/run-ahead.sh the server's clock is moved by libfaketime;
        // Chromium is not (it spins under it), so it must not inherit it.
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let mut capabilities = serde_json::Map::new();
    let mut options = serde_json::json!({
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--window-size=1366,768", "--lang=zh-CN"],
    });
    if let Ok(binary) = std::env::var("LEDCAST_TEST_CHROMIUM") {
        options["binary"] = binary.into();
    }
    capabilities.insert("goog:chromeOptions".into(), options);
    let mut last_error = String::new();
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver at {url} did not start a browser: {last_error}");
}

/// Polls `check` every 250 ms until it returns `Some`, or panics after `seconds`.
async fn until<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn text_of(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Fills in the login form and submits it.
async fn submit_login(client: &Client, base: &str, username: &str, password: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    for (id, value) in [("username", username), ("password", password)] {
        client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    client
        .find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn log_in(client: &Client, base: &str, username: &str, password: &str) {
    submit_login(client, base, username, password).await;
    until(10, "the first page after login", || async {
        let url = client.current_url().await.ok()?;
        url.path().starts_with("/ui/").then_some(())
    })
    .await;
}

/// Submits the login form; returns the error it shows.
async fn try_login(client: &Client, base: &str, username: &str, password: &str) -> String {
    submit_login(client, base, username, password).await;
    until(10, "the login error", || async {
        let error = client.find(Locator::Id("login-error")).await.ok()?;
        if error.attr("hidden").await.ok()?.is_some() {
            return None;
        }
        let text = error.text().await.ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await
}

async fn log_out(client: &Client) {
    client
        .find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(10, "the login page after logout", || async {
        let url = client.current_url().await.ok()?;
        (url.path() == "/login").then_some(())
    })
    .await;
}

/// A poster the media pipeline accepts: bands of colour and a block, unique per `seed`.
fn poster(path: &Path, seed: u8) {
    let image = image::RgbImage::from_fn(704, 160, |x, y| {
        let band = ((x / 88) as u8).wrapping_mul(37).wrapping_add(seed);
        if (100..300).contains(&x) && (40..120).contains(&y) {
            image::Rgb([255, 255 - seed, seed])
        } else {
            image::Rgb([band, seed.wrapping_mul(3), 255 - band])
        }
    });
    image.save(path).unwrap();
}

async fn create_user(
    store: &ledcast_server::store::Store,
    name: &str,
    role: Role,
    sites: &[String],
) -> String {
    let password = format!("pw-{name}-1234567");
    store
        .create_user(NewUser {
            id: name,
            username: name,
            password_hash: &ledcast_server::auth::hash_password(&password),
            role,
            sites,
            now: ledcast_server::clock::now().as_millis(),
        })
        .await
        .unwrap();
    password
}

/// Clicks the first button matching `css` and waits until the page no longer has it.
async fn click_and_wait_gone(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
    until(15, &format!("{css} to go away"), || async {
        client.find(Locator::Css(css)).await.is_err().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_approver_branch_journey_in_chromium() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    // The browser first: a missing or broken chromedriver fails at once.
    let (_driver, client) = start_browser(&chromedriver).await;
    let data = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let demo = demo::start(
        DemoArgs {
            data_dir: Some(data.path().to_path_buf()),
            playlists: repo_root().join("playlists"),
            media: repo_root().join("media"),
            no_agents: false,
            broker_url: None,
            no_history: false,
        },
        async {
            let _ = stopped.await;
        },
    )
    .await
    .expect("the demo starts");
    let base = format!("http://{}", demo.running.http_addr);
    let store = demo.running.state.store.clone();
    let editor_pw = create_user(&store, "li.editor", Role::Editor, &[]).await;
    let approver_pw = create_user(&store, "wang.approver", Role::Approver, &[]).await;
    let zh = Lang::ZhCn;

    // An unauthenticated browser lands on the login page, in Chinese.
    client.goto(&format!("{base}/ui/materials")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/login");
    assert_eq!(url.query(), Some("next=/ui/materials"));
    assert_eq!(
        text_of(&client, "h1").await.as_deref(),
        Some(zh.text("login_title"))
    );
    shot(&client, "01-login").await;

    // --- the editor's typos lock her out; the page says for how long ----------
    for _ in 0..5 {
        let shown = try_login(&client, &base, "li.editor", "a typo of the password").await;
        assert_eq!(shown, zh.text("js_login_failed"));
    }
    let shown = try_login(&client, &base, "li.editor", &editor_pw).await;
    assert!(
        shown.contains("15 分钟后再试") && shown.contains("管理员解锁"),
        "the locked-out clerk is told how long and whom to ask: {shown}"
    );
    shot(&client, "01b-login-locked").await;

    // --- the admin lifts the lock and creates the branch user ---------------
    let admin_password = demo
        .admin_password
        .clone()
        .expect("a fresh demo's admin password");
    log_in(&client, &base, "admin", &admin_password).await;
    client.goto(&format!("{base}/ui/users")).await.unwrap();
    let locked_row = "tr:has(.unlock-user[data-name=\"li.editor\"])";
    let row_text = text_of(&client, locked_row).await.unwrap_or_default();
    assert!(
        row_text.contains("已锁定") && row_text.contains("输错密码 5 次"),
        "the users page shows the lock: {row_text}"
    );
    client
        .execute(
            "document.querySelector('.unlock-user').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "01c-users-locked").await;
    client
        .find(Locator::Css(".unlock-user[data-name=\"li.editor\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(10, "the row to say unlocked", || async {
        let cells = client.find_all(Locator::Css(".login-state")).await.ok()?;
        for cell in cells {
            if cell.text().await.ok()? == zh.text("js_user_unlocked") {
                return Some(());
            }
        }
        None
    })
    .await;
    client
        .find(Locator::Id("new-username"))
        .await
        .unwrap()
        .send_keys("zhao.branch")
        .await
        .unwrap();
    client
        .find(Locator::Css("#new-role option[value=branch]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css(&format!(".new-site[value=\"{BRANCH_SITE}\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("create-user"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let branch_pw = until(15, "the new user's password", || async {
        let shown = client.find(Locator::Id("new-password")).await.ok()?;
        shown.attr("data-password").await.ok()?
    })
    .await;
    // The new user is in the list at once (no reload), named by site, not id.
    let row = until(15, "the branch user's row", || async {
        let rows = client.find_all(Locator::Css("tbody tr")).await.ok()?;
        for row in rows {
            let text = row.text().await.ok()?;
            if text.contains("zhao.branch") {
                return Some(text);
            }
        }
        None
    })
    .await;
    assert!(
        row.contains("工商银行高港支行") && !row.contains(BRANCH_SITE),
        "{row}"
    );
    client
        .execute(
            "document.querySelector('tbody tr:last-child').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "01d-users-sites").await;
    // The admin disables the branch user (the row says so at once), enables
    // them again, and resets their password: the new one is shown once.
    let zhao = "[data-name=\"zhao.branch\"]";
    client
        .find(Locator::Css(&format!(".disable-user{zhao}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .accept_alert()
        .await
        .expect("the disable confirmation");
    let disabled_row = until(15, "the row to say disabled", || async {
        let text = text_of(&client, &format!("tr:has(.enable-user{zhao})")).await?;
        text.contains(zh.text("users_disabled")).then_some(text)
    })
    .await;
    assert!(disabled_row.contains("zhao.branch"), "{disabled_row}");
    client
        .execute(
            "document.querySelector('.enable-user').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "01e-users-disabled").await;
    // The disabled clerk is told so on the login page, in Chinese.
    log_out(&client).await;
    let shown = try_login(&client, &base, "zhao.branch", &branch_pw).await;
    assert_eq!(shown, zh.text("js_login_disabled"));
    shot(&client, "01e-login-disabled").await;
    log_in(&client, &base, "admin", &admin_password).await;
    client.goto(&format!("{base}/ui/users")).await.unwrap();
    client
        .find(Locator::Css(&format!(".enable-user{zhao}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(15, "the row to be in use again", || async {
        client
            .find(Locator::Css(&format!(".disable-user{zhao}")))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    client
        .find(Locator::Css(&format!(".reset-password{zhao}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.accept_alert().await.expect("the reset confirmation");
    let reset_pw = until(15, "the reset password", || async {
        let shown = client.find(Locator::Id("reset-password")).await.ok()?;
        shown.attr("data-password").await.ok()?
    })
    .await;
    assert_ne!(reset_pw, branch_pw);
    let branch_pw = reset_pw;
    shot(&client, "01f-users-password-reset").await;
    log_out(&client).await;

    // --- the editor: two posters and a warning text, a playlist, a schedule ---
    log_in(&client, &base, "li.editor", &editor_pw).await;
    client.goto(&format!("{base}/ui/materials")).await.unwrap();
    let files = tempfile::tempdir().unwrap();
    let posters = [
        files.path().join("反诈海报A.png"),
        files.path().join("反诈海报B.png"),
    ];
    poster(&posters[0], 11);
    poster(&posters[1], 151);
    client
        .find(Locator::Id("upload-tags"))
        .await
        .unwrap()
        .send_keys("e2e, investment")
        .await
        .unwrap();
    // A third file that is no image: refused on its own, in plain words.
    let broken = files.path().join("坏文件.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n but the rest is not a picture").unwrap();
    let mut paths: Vec<String> = posters.iter().map(|p| p.display().to_string()).collect();
    paths.push(broken.display().to_string());
    client
        .find(Locator::Id("file-input"))
        .await
        .unwrap()
        .send_keys(&paths.join("\n"))
        .await
        .unwrap();
    client
        .find(Locator::Css("details.text-material summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refusal = until(
        60,
        "both posters uploaded and the broken file refused",
        || async {
            let done = client
                .find_all(Locator::Css("#uploads li.done"))
                .await
                .ok()?;
            let failed = client
                .find_all(Locator::Css("#uploads li.failed"))
                .await
                .ok()?;
            if done.len() < 2 || failed.is_empty() {
                return None;
            }
            assert_eq!(failed.len(), 1, "only the broken file fails");
            failed[0].text().await.ok()
        },
    )
    .await;
    // Why, in a sentence a clerk reads (the damaged-file one), with no
    // English after it.
    let said = |key: &str| zh.text(key).replace("{format}", "PNG");
    assert!(
        refusal.contains("坏文件.png")
            && (refusal.contains(&said("js_upload_corrupt"))
                || refusal.contains(&said("js_upload_truncated"))),
        "the refusal names the file and says why in plain words: {refusal}"
    );
    assert!(
        !refusal.contains("the PNG file"),
        "the developer's English detail is not shown to the clerk: {refusal}"
    );
    // An upload that went through is named by its title, not its id.
    let uploads = text_of(&client, "#uploads").await.unwrap();
    assert!(
        uploads.contains(&zh.text("js_upload_done").replace("{title}", "反诈海报A")),
        "{uploads}"
    );
    assert!(!uploads.contains("（m-"), "no material ids: {uploads}");
    client
        .find(Locator::Id("text-title"))
        .await
        .unwrap()
        .send_keys("不要向陌生账户转账")
        .await
        .unwrap();
    client
        .find(Locator::Id("text-body"))
        .await
        .unwrap()
        .send_keys("陌生来电要求转账，一律是诈骗！")
        .await
        .unwrap();
    client
        .find(Locator::Id("text-upload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let material_ids: Vec<String> = until(30, "three uploads done", || async {
        let links = client
            .find_all(Locator::Css("#uploads li.done a"))
            .await
            .ok()?;
        if links.len() < 3 {
            return None;
        }
        let mut ids = Vec::new();
        for link in links {
            let href = link.attr("href").await.ok()??;
            ids.push(href.rsplit('/').next()?.to_owned());
        }
        Some(ids)
    })
    .await;
    // The same picture again under another name: pointed out, with a link
    // to the material it already is, and not stored a second time.
    let copy = files.path().join("海报A-副本.png");
    std::fs::copy(&posters[0], &copy).unwrap();
    client
        .find(Locator::Id("file-input"))
        .await
        .unwrap()
        .send_keys(&copy.display().to_string())
        .await
        .unwrap();
    let (said, link) = until(30, "the duplicate pointed out", || async {
        let item = client
            .find(Locator::Css("#uploads li.duplicate"))
            .await
            .ok()?;
        let link = item
            .find(Locator::Css("a.duplicate-link"))
            .await
            .ok()?
            .attr("href")
            .await
            .ok()??;
        Some((item.text().await.ok()?, link))
    })
    .await;
    let expected = zh
        .text("js_upload_duplicate")
        .replace("{title}", "反诈海报A");
    assert!(said.contains(&expected), "{said}");
    assert!(said.contains(zh.text("js_upload_duplicate_open")), "{said}");
    let existing = link.trim_start_matches("/ui/materials/");
    assert!(material_ids.iter().any(|m| m == existing), "{link}");
    assert_eq!(
        client
            .find_all(Locator::Css("#uploads li.done"))
            .await
            .unwrap()
            .len(),
        3,
        "no second material"
    );
    client
        .execute(
            "document.getElementById('dropzone').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "02-materials-upload").await;

    client.goto(&format!("{base}/ui/playlists")).await.unwrap();
    client
        .find(Locator::Id("pl-id"))
        .await
        .unwrap()
        .send_keys(PLAYLIST_ID)
        .await
        .unwrap();
    client
        .find(Locator::Id("pl-name"))
        .await
        .unwrap()
        .send_keys("网点反诈轮播")
        .await
        .unwrap();
    for id in &material_ids {
        client
            .find(Locator::Css(&format!(".pick-material[value=\"{id}\"]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    // The default priority is below every demo schedule (5–30), so a new
    // schedule does not silently win; the clerk raises it on purpose.
    let priority = client.find(Locator::Id("sc-priority")).await.unwrap();
    assert_eq!(priority.prop("value").await.unwrap().as_deref(), Some("4"));
    let help = text_of(&client, "#priority-help").await.unwrap_or_default();
    assert!(help.contains("数字越大越优先"), "{help}");
    priority.clear().await.unwrap();
    priority.send_keys("90").await.unwrap();
    client
        .find(Locator::Css(&format!(".tg-site[value=\"{BRANCH_SITE}\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // A typo in the hours: 检查 says it in Chinese, first, with the file
    // and line beside it; the demo's own notes fold away below.
    let hours = client.find(Locator::Id("sc-hours")).await.unwrap();
    hours.clear().await.unwrap();
    hours.send_keys("08:00-2000").await.unwrap();
    client
        .find(Locator::Id("pl-check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let first = until(20, "the typo said", || async {
        text_of(&client, "#diagnostics li:first-child").await
    })
    .await;
    let expected = zh
        .text("diag_hours_not_a_time")
        .replace("{value}", "2000")
        .replace("{example}", "17:30");
    assert!(
        first.contains(&expected)
            && first.contains(&format!("ui-{PLAYLIST_ID}.toml:"))
            && !first.contains("is not a time"),
        "{first}"
    );
    let others = client
        .find(Locator::Css("#other-diagnostics details"))
        .await
        .expect("the other files' notes, folded");
    assert_eq!(others.attr("open").await.unwrap(), None, "folded");
    client
        .execute(
            "document.getElementById('pl-check').scrollIntoView({block: 'start'});",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "03a-builder-bad-time").await;
    client
        .execute(
            "document.querySelector('#other-diagnostics details').open = true;",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "03a-builder-other-notes").await;
    client
        .execute(
            "document.getElementById('flash').className = 'flash'; window.scrollTo(0, 0);",
            vec![],
        )
        .await
        .unwrap();
    hours.clear().await.unwrap();
    hours.send_keys("00:00-24:00").await.unwrap();
    client
        .find(Locator::Id("pl-check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(20, "the dry run's answer", || async {
        let flash = client
            .find(Locator::Css("#flash.ok, #flash.error"))
            .await
            .ok()?;
        let class = flash.attr("class").await.ok()??;
        assert!(
            class.contains("ok"),
            "the dry run failed: {}",
            flash.text().await.unwrap_or_default()
        );
        Some(())
    })
    .await;
    // The check says, before anything is submitted, where this schedule
    // would win over every other one.
    let outranks = until(20, "the check's override warning", || async {
        text_of(&client, "#impact .impact-outranks").await?;
        text_of(&client, "#impact").await
    })
    .await;
    assert!(
        outranks.contains("优先级 90 高于本屏现有的全部排期（最高 30）")
            && outranks.contains("工行大堂屏"),
        "{outranks}"
    );
    client
        .execute(
            "document.getElementById('pl-check').scrollIntoView({block: 'start'});",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "03-playlist-builder").await;
    client
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Id("pl-apply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let schedule_row = format!(".schedule-row[data-id=\"{PLAYLIST_ID}-schedule\"]");
    until(30, "the applied schedule listed", || async {
        client
            .find(Locator::Css(&schedule_row))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    // An urgent alert on another branch: the banner shows while it runs; end it early.
    client.goto(&format!("{base}/ui/alerts")).await.unwrap();
    client
        .find(Locator::Css("input[name=alert-kind][value=material]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css(".al-site[value=\"abc-gaogang\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("alert-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(15, "the alert banner", || async {
        client
            .find(Locator::Id("alert-banner"))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    shot(&client, "11-alert-banner").await;
    client
        .find(Locator::Css("#running-alerts button.js-decide"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .accept_alert()
        .await
        .expect("the end-early confirmation");
    until(15, "the banner gone after ending the alert", || async {
        client
            .find(Locator::Id("alert-banner"))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    // A county library pack: imported here, approved by the approver after seeing its diff.
    client.goto(&format!("{base}/ui/editions")).await.unwrap();
    let pack = repo_root().join("media/packs/gaogang-2026-W48.zip");
    client
        .find(Locator::Id("pack-file"))
        .await
        .unwrap()
        .send_keys(&pack.display().to_string())
        .await
        .unwrap();
    client
        .find(Locator::Id("pack-upload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(30, "the imported edition listed", || async {
        client
            .find(Locator::Css("article.edition"))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let door_page = format!("{base}/ui/screens/{DOOR_SCREEN}");
    client.goto(&door_page).await.unwrap();
    let desired_before: u64 = until(60, "the door screen's first rotation", || async {
        text_of(&client, "#desired-version")
            .await?
            .trim()
            .parse()
            .ok()
    })
    .await;
    log_out(&client).await;

    // --- the approver: approve the three materials and the schedule ---------
    log_in(&client, &base, "wang.approver", &approver_pw).await;
    client.goto(&format!("{base}/ui/approvals")).await.unwrap();
    shot(&client, "04-approvals").await;
    // Before approving, the approver sees what the schedule changes: its
    // override, its materials still pending, the branch's screens.
    let article = format!(".pending-schedule[data-id=\"{PLAYLIST_ID}-schedule\"]");
    let preview = text_of(&client, &article).await.unwrap_or_default();
    assert!(
        preview.contains(
            "优先级 90 高于本屏现有的全部排期（最高 30），批准后这些屏在所列时段只播这个排期"
        ),
        "{preview}"
    );
    assert!(
        text_of(&client, &format!("{article} .pending-note"))
            .await
            .is_some_and(|t| t.contains("3 个素材还没有批准")),
        "the materials waiting are pointed out"
    );
    for id in &material_ids {
        click_and_wait_gone(
            &client,
            &format!(".pending-item[data-id=\"{id}\"] button.js-decide"),
        )
        .await;
    }
    // With its materials approved, "after" on the branch's door plays them.
    let door_after = format!("{article} .impact-screen[data-screen=\"{DOOR_SCREEN}\"] .ba.after");
    for id in &material_ids {
        client
            .find(Locator::Css(&format!(
                "{door_after} .slot[data-material=\"{id}\"] img.led"
            )))
            .await
            .unwrap_or_else(|_| panic!("the door's loop after approval shows {id}"));
    }
    let before = text_of(
        &client,
        &format!("{article} .impact-screen[data-screen=\"{DOOR_SCREEN}\"] .ba.before .ba-label"),
    )
    .await
    .unwrap_or_default();
    assert!(before.starts_with("现在播"), "{before}");
    client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
            vec![serde_json::json!(article)],
        )
        .await
        .unwrap();
    shot(&client, "04a-approval-preview").await;
    client
        .execute(
            "document.querySelector(arguments[0] + ' .impact-screen').scrollIntoView({block: 'start'});",
            vec![serde_json::json!(article)],
        )
        .await
        .unwrap();
    shot(&client, "04a-approval-preview-screens").await;
    click_and_wait_gone(
        &client,
        &format!(".pending-schedule[data-id=\"{PLAYLIST_ID}-schedule\"] button.js-decide"),
    )
    .await;
    // The approval answers before the screens' loops are compiled; the page
    // it reloads to says when they are (issue 18: the recompiler).
    let updated = until(
        30,
        "the page saying the screens' loops are updated",
        || async {
            let flash = client.find(Locator::Css("#flash.ok")).await.ok()?;
            let text = flash.text().await.ok()?;
            text.contains("各屏播放表已更新").then_some(text)
        },
    )
    .await;
    assert!(
        updated.contains("块屏的内容变了"),
        "the approval changed the branch's screens: {updated}"
    );
    shot(&client, "04b-approved-screens-updated").await;
    // The demo agent on the branch's door picks the new rotation up.
    until(90, "the door agent playing the approved loop", || async {
        client.goto(&door_page).await.ok()?;
        let desired: u64 = text_of(&client, "#desired-version")
            .await?
            .trim()
            .parse()
            .ok()?;
        let reported: u64 = text_of(&client, "#reported-version")
            .await?
            .trim()
            .parse()
            .ok()?;
        let mut has_ours = false;
        for id in &material_ids {
            let item = format!("#loop li[data-id=\"{id}\"]");
            has_ours |= client.find(Locator::Css(&item)).await.is_ok();
        }
        (desired > desired_before && reported == desired && has_ours).then_some(())
    })
    .await;
    shot(&client, "05-screen-now-playing").await;
    client
        .execute("document.querySelector('.week').scrollIntoView();", vec![])
        .await
        .unwrap();
    shot(&client, "05-screen-week").await;
    client.goto(&format!("{base}/ui/screens")).await.unwrap();
    shot(&client, "06-screens").await;
    client.goto(&format!("{base}/ui/editions")).await.unwrap();
    let summary = until(30, "the edition's diff", || async {
        let text = text_of(&client, "article.edition .diff-summary").await?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(summary.contains('屏'), "a Chinese diff summary: {summary}");
    shot(&client, "12-editions").await;
    client
        .find(Locator::Css("article.edition button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(30, "the edition approved", || async {
        let state = text_of(&client, "article.edition p.small").await?;
        state.contains(zh.text("js_edition_current")).then_some(())
    })
    .await;
    client
        .goto(&format!("{base}/ui/materials/{}", material_ids[0]))
        .await
        .unwrap();
    shot(&client, "07-material-previews").await;
    // Schedules in words, targets by name.
    client.goto(&format!("{base}/ui/playlists")).await.unwrap();
    let when = text_of(
        &client,
        ".schedule-row[data-id=\"county-pack-daytime\"] td:nth-child(3)",
    )
    .await
    .unwrap_or_default();
    assert!(when.starts_with("每天 08:00–20:00"), "{when}");
    client
        .execute(
            "document.querySelector('.schedule-row').scrollIntoView({block: 'start'});",
            vec![],
        )
        .await
        .unwrap();
    shot(&client, "03b-schedules").await;
    // Playlists read as their loop: LED thumbnails and titles in order,
    // queries in words (not TOML).
    client
        .execute(
            "document.querySelector('ol.loop-items').scrollIntoView({block: 'start'});",
            vec![],
        )
        .await
        .unwrap();
    let loop_text = client
        .find(Locator::Css("ol.loop-items"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !loop_text.contains("{ ") && !loop_text.contains("m-"),
        "a playlist shows titles and words, not TOML or material ids: {loop_text}"
    );
    let thumbnails = client
        .find_all(Locator::Css("ol.loop-items img.led"))
        .await
        .unwrap();
    assert!(!thumbnails.is_empty(), "playlists show LED thumbnails");
    shot(&client, "03c-playlists-loop").await;
    log_out(&client).await;

    // --- the branch user: only their branch; confirm; the CSV ---------------
    log_in(&client, &base, "zhao.branch", &branch_pw).await;
    assert_eq!(client.current_url().await.unwrap().path(), "/ui/branch");
    let sites = client.find_all(Locator::Css(".branch-site")).await.unwrap();
    assert_eq!(sites.len(), 1, "a branch user sees one site");
    assert_eq!(
        sites[0].attr("data-site").await.unwrap().as_deref(),
        Some(BRANCH_SITE)
    );
    let source = client.source().await.unwrap();
    for other in ["abc-door", "rcb-", "hall-wall"] {
        assert!(!source.contains(other), "the branch page shows {other}");
    }
    client
        .goto(&format!("{base}/ui/screens/abc-door"))
        .await
        .unwrap();
    assert_eq!(
        text_of(&client, "h1").await.as_deref(),
        Some(zh.text("error_forbidden"))
    );
    // The demo's first start gave the screens last week through their agents:
    // the previous week's table is judged, and the branch's clerk confirmed it.
    client.goto(&format!("{base}/ui/branch")).await.unwrap();
    client
        .find(Locator::Css("a.week-previous"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(20, "last week's compliance table", || async {
        let text = text_of(&client, ".compliance").await?;
        (!text.contains(zh.text("loading"))).then_some(())
    })
    .await;
    let pills = |status: &'static str| {
        let client = client.clone();
        async move {
            client
                .find_all(Locator::Css(&format!(
                    ".compliance-table td .pill.{status}"
                )))
                .await
                .unwrap()
                .len()
        }
    };
    let branch_screen_count = store
        .list_screens(Some(&[BRANCH_SITE.to_owned()]))
        .await
        .unwrap()
        .len();
    let (compliant, unknown) = (pills("compliant").await, pills("unknown").await);
    assert_eq!(
        compliant + unknown + pills("non_compliant").await,
        branch_screen_count * 7,
        "a verdict for every screen and day of last week"
    );
    // Only the ATM topper's Wednesday (its display was unplugged for an
    // afternoon) cannot be judged; every other day is proven compliant.
    assert_eq!(unknown, 1, "one day without full evidence");
    assert_eq!(compliant, branch_screen_count * 7 - 1);
    let atm = text_of(
        &client,
        &format!(
            ".confirmations[data-screen=\"{}\"]",
            demo::history::OUTAGE_SCREEN
        ),
    )
    .await
    .unwrap();
    assert!(
        atm.starts_with(zh.text("js_confirmed_problem"))
            && atm.contains(demo::history::BRANCH_CLERK)
            && atm.contains("黑屏"),
        "the clerk reported the outage: {atm}"
    );
    let door = text_of(
        &client,
        &format!(".confirmations[data-screen=\"{DOOR_SCREEN}\"]"),
    )
    .await
    .unwrap();
    assert!(
        door.starts_with(zh.text("js_confirmed_ok")),
        "last week confirmed: {door}"
    );
    shot(&client, "07b-branch-last-week").await;
    // And every screen's agent sent a screenshot when asked.
    let screenshots = client
        .find_all(Locator::Css("img.led.shot[src*='/screenshots/']"))
        .await
        .unwrap();
    assert_eq!(
        screenshots.len(),
        branch_screen_count,
        "each screen shows its agent's screenshot"
    );

    client.goto(&format!("{base}/ui/branch")).await.unwrap();
    until(20, "the compliance table", || async {
        let text = text_of(&client, ".compliance").await?;
        (!text.contains(zh.text("loading"))).then_some(())
    })
    .await;
    let form = format!(".confirm-form[data-screen=\"{DOOR_SCREEN}\"]");
    client
        .find(Locator::Css(&format!("{form} button[type=submit]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let saved = zh.text("js_confirm_saved");
    until(15, "the confirmation saved", || async {
        let status = text_of(&client, &format!("{form} .confirm-status")).await?;
        assert!(
            status.is_empty() || status == saved,
            "confirmation refused: {status}"
        );
        (status == saved).then_some(())
    })
    .await;
    // The new entry names the clerk and says when in Chinese, site time.
    let list = format!(".confirmations[data-screen=\"{DOOR_SCREEN}\"]");
    let entry = until(15, "the confirmation listed", || async {
        let text = text_of(&client, &list).await?;
        text.contains("zhao.branch").then_some(text)
    })
    .await;
    let expected = format!("{} · zhao.branch · ", zh.text("js_confirmed_ok"));
    assert!(entry.starts_with(&expected), "{entry}");
    let when = entry.trim_start_matches(&expected);
    assert!(
        when.contains('年')
            && when.contains('月')
            && when.contains('日')
            && !when.contains("AM")
            && !when.contains("PM"),
        "not a Chinese date: {entry}"
    );
    client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![list.clone().into()],
        )
        .await
        .unwrap();
    shot(&client, "08-branch-confirmation").await;
    client
        .set_window_size(390, 844)
        .await
        .expect("phone-sized window");
    client.goto(&format!("{base}/ui/branch")).await.unwrap();
    until(20, "the compliance table on a phone", || async {
        client
            .find(Locator::Css(".compliance-table"))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    shot(&client, "09-branch-phone").await;
    client.set_window_size(1366, 768).await.unwrap();

    // The English switch, and back.
    client
        .find(Locator::Css("a.lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(10, "the page in English", || async {
        let h1 = text_of(&client, "h1").await?;
        h1.starts_with(Lang::En.text("branch_title")).then_some(())
    })
    .await;
    client
        .find(Locator::Css("a.lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(10, "the page in Chinese again", || async {
        let h1 = text_of(&client, "h1").await?;
        h1.starts_with(zh.text("branch_title")).then_some(())
    })
    .await;

    client.goto(&format!("{base}/ui/reports")).await.unwrap();
    shot(&client, "10-reports").await;
    let href = client
        .find(Locator::Id(&format!("csv-{BRANCH_SITE}")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let bytes = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => done(Array.from(new Uint8Array(b))));",
            vec![href.clone().into()],
        )
        .await
        .unwrap();
    let bytes: Vec<u8> = serde_json::from_value(bytes).unwrap();
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "the CSV starts with a BOM"
    );
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    // The column titles are the first row (Excel sorts and filters from A1).
    assert!(
        csv.starts_with("网点编号,网点,屏幕编号,屏幕,日期,"),
        "{csv}"
    );
    let branch_screens = store
        .list_screens(Some(&[BRANCH_SITE.to_owned()]))
        .await
        .unwrap();
    let day_rows: Vec<&str> = csv
        .split("\r\n")
        .filter(|l| l.starts_with(&format!("{BRANCH_SITE},")))
        .collect();
    assert_eq!(
        day_rows.len(),
        branch_screens.len() * 7,
        "one row per screen per day of the week: {csv}"
    );
    for screen in &branch_screens {
        assert!(
            day_rows
                .iter()
                .any(|r| r.contains(&format!(",{},", screen.id))),
            "{} missing from {csv}",
            screen.id
        );
    }
    assert!(
        !csv.contains("abc-gaogang") && !csv.contains("hall-wall"),
        "{csv}"
    );
    assert!(
        csv.split("\r\n")
            .any(|l| l.contains(DOOR_SCREEN) && l.contains("zhao.branch")),
        "the confirmation is in the report: {csv}"
    );

    // --- the admin reads the audit log: the alert, in words, by filter -----
    log_out(&client).await;
    log_in(&client, &base, "admin", &admin_password).await;
    client
        .goto(&format!(
            "{base}/ui/audit?actor=li.editor&action=alert.create"
        ))
        .await
        .unwrap();
    let rows = until(15, "the audit log's alert rows", || async {
        let text = text_of(&client, "table.audit tbody").await?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(
        rows.contains("发布紧急提示") && rows.contains("li.editor") && !rows.contains("批准素材"),
        "only li.editor's alerts, in words: {rows}"
    );
    shot(&client, "16-audit-filtered").await;

    client.close().await.unwrap();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), demo.wait()).await;
    println!("screenshots in {}", screenshot_dir().display());
}
