//! The dashboard in a real browser (Debian's chromium, headless, driven through
//! chromedriver): a client signs in and sees only its sites, a tile turns red when its
//! equipment goes down without the page reloading, an operator acknowledges then closes an
//! alert with a note, and both sign out. Screenshots (desktop and phone widths) are written to
//! `target/tmp/dashboard-*.png`.

use crate::support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// chromedriver on a free port, killed with the test.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, installed by scripts/test)");
        // Ready once it says so on its first lines.
        let out = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
        let ready = lines
            .by_ref()
            .take(20)
            .map_while(Result::ok)
            .any(|l| l.contains("started successfully"));
        assert!(ready, "chromedriver did not start");
        // Its further output is drained so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WORLD: &str = r#"
[default]
status = "up"

[equipment.nvr-c]
status = "up"
metrics = [{ name = "system.filesystem.utilization", attributes = [["mountpoint", "/hdd"]], value = 0.97 }]
"#;

async fn session(driver: &Driver) -> Client {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=fr"]
        }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object"),
    };
    let url = format!("http://127.0.0.1:{}", driver.port);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a browser session")
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join(format!("dashboard-{name}.png")), &png).expect("write png");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
}

async fn sign_in(c: &Client, api: &str, account: &str, password: &str) {
    c.goto(&format!("{api}/login")).await.expect("login page");
    c.find(Locator::Css("#account"))
        .await
        .expect("account field")
        .send_keys(account)
        .await
        .expect("type");
    c.find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(password)
        .await
        .expect("type");
    c.find(Locator::Css("form.login button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("header .who"))
        .await
        .expect("signed in");
}

async fn sign_out(c: &Client, api: &str) {
    c.find(Locator::Css("header .who button"))
        .await
        .expect("sign-out button")
        .click()
        .await
        .expect("click");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form.login"))
        .await
        .expect("back to the login form");
    // The session is over: the home page leads to the form again.
    c.goto(&format!("{api}/")).await.expect("home");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form.login"))
        .await
        .expect("signed out");
}

#[test]
fn in_a_browser_a_client_watches_its_tiles_live_and_an_operator_acknowledges_and_closes() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let hash = {
        let mut child = Command::new(vigie_bin())
            .arg("passwd")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("passwd");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"browser pass\n")
            .expect("write");
        let out = child.wait_with_output().expect("passwd");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    std::fs::write(
        cfg.path().join("vigie.toml"),
        format!(
            "[daemon]\ncollection_interval = \"1s\"\n[thresholds]\ndisk = {{ for = \"0s\" }}\n\
             [clients.c]\nname = \"Client C\"\ncontract = {{ dashboard = true }}\n\
             [clients.d]\nname = \"Client D\"\ncontract = {{ dashboard = true }}\n\
             [accounts.marie]\nname = \"Marie\"\nrole = \"operator\"\npassword = \"{hash}\"\n\
             [accounts.client-c]\nname = \"Portail C\"\nclient = \"c\"\npassword = \"{hash}\"\nlanguage = \"en\"\n"
        ),
    )
    .expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = |id: &str, client: &str, eq: &[(&str, &str)]| {
        let mut s = format!(
            "[site]\nname = \"Site {id}\"\nclient = \"{client}\"\ntimezone = \"UTC\"\ncamera_tolerance = 5\n"
        );
        for (e, kind) in eq {
            s.push_str(&equipment(e, kind, None));
        }
        s
    };
    std::fs::write(
        cfg.path().join("sites/sc.toml"),
        site("sc", "c", &[("nvr-c", "nvr"), ("cam-c", "camera")]),
    )
    .expect("write");
    std::fs::write(
        cfg.path().join("sites/sd.toml"),
        site("sd", "d", &[("nvr-d", "nvr")]),
    )
    .expect("write");
    let world = data.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("write");
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    alerts_until(&daemon.client(), "the disk alert", |l| !l.alerts.is_empty());
    let driver = Driver::start();
    let api = daemon.api.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let c = session(&driver).await;

        // The client: its site's tiles, nothing of the other client.
        sign_in(&c, &api, "client-c", "browser pass").await;
        let tile = Locator::Css("[data-equipment='cam-c']");
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(tile)
            .await
            .expect("cam-c's tile");
        let source = c.source().await.expect("source");
        assert!(
            !source.contains("nvr-d") && !source.contains("Site sd"),
            "{source}"
        );
        assert_eq!(
            c.find(Locator::Css("[data-equipment='cam-c'] .word"))
                .await
                .expect("word")
                .text()
                .await
                .expect("text"),
            "up"
        );
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("body[data-stream='open']"))
            .await
            .expect("the event stream open");
        screenshot(&c, "client-desktop").await;

        // cam-c goes down: its tile turns, the page is not reloaded.
        c.execute("window.vigieMarker = 42;", vec![])
            .await
            .expect("marker");
        std::fs::write(
            &world,
            format!("{WORLD}\n[equipment.cam-c]\nstatus = \"down\"\nreason = \"no answer\"\n"),
        )
        .expect("write");
        c.wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css("[data-equipment='cam-c'][data-status='down']"))
            .await
            .expect("the tile turned down");
        let word = c
            .find(Locator::Css("[data-equipment='cam-c'] .word"))
            .await
            .expect("word")
            .text()
            .await
            .expect("text");
        assert!(word.contains("down"), "{word}");
        let marker = c
            .execute("return window.vigieMarker;", vec![])
            .await
            .expect("marker");
        assert_eq!(marker, serde_json::json!(42), "the page was reloaded");
        c.set_window_size(390, 844).await.expect("phone width");
        screenshot(&c, "client-phone").await;
        c.set_window_size(1280, 900).await.expect("desktop width");
        sign_out(&c, &api).await;

        // The operator: acknowledge with a note, then close with a resolution note.
        sign_in(&c, &api, "marie", "browser pass").await;
        let ack_form = Locator::Css("form[data-action$='/ack']");
        let form = c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(ack_form)
            .await
            .expect("an alert to acknowledge");
        let action = form
            .attr("data-action")
            .await
            .expect("attr")
            .expect("action");
        let id: u64 = action
            .trim_start_matches("/api/v1/alerts/")
            .trim_end_matches("/ack")
            .parse()
            .expect("alert number");
        screenshot(&c, "operator-desktop").await;
        form.find(Locator::Css("input[name='note']"))
            .await
            .expect("note")
            .send_keys("technicien prévenu")
            .await
            .expect("type");
        form.find(Locator::Css("button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("ack");
        // The list refreshes: the alert has no acknowledge form any more.
        let row = format!("tr[data-alert='{id}']");
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath(&format!(
                "//tr[@data-alert='{id}' and not(.//form[contains(@data-action, '/ack')])]"
            )))
            .await
            .expect("acknowledged");
        let alert = daemon.client().alert(id).expect("alert");
        assert_eq!(alert.acknowledged.map(|a| a.by), Some("marie".to_string()));
        let close = c
            .find(Locator::Css(&format!("{row} form[data-action$='/close']")))
            .await
            .expect("close form");
        close
            .find(Locator::Css("input[name='note']"))
            .await
            .expect("note")
            .send_keys("disque remplacé")
            .await
            .expect("type");
        close
            .find(Locator::Css("button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("close");
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath(&format!(
                "//div[@data-partial and not(.//tr[@data-alert='{id}'])]"
            )))
            .await
            .expect("the closed alert leaves the list");
        let alert = daemon.client().alert(id).expect("alert");
        let closed = alert.closed.expect("closed");
        assert_eq!(
            (closed.by.as_str(), closed.note.as_deref()),
            ("marie", Some("disque remplacé"))
        );
        sign_out(&c, &api).await;
        c.close().await.expect("close the browser");
    });
    daemon.sigterm();
}
