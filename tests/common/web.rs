//! A stand-in for the web UI's build (`web/dist`), so server tests do not depend on npm.

use std::path::Path;

pub const INDEX: &str = "<!doctype html><html><head><meta name=\"csp-nonce\" content=\"{{CSP_NONCE}}\"><script type=\"module\" src=\"/assets/app.js\"></script></head><body>ui</body></html>";
pub const APP_JS: &str = "console.log('ledgraph ui');\n";

/// A build directory like `npm run build` makes: the page, the assets, a `.br` of app.js.
pub fn fake_build(dir: &Path) {
    let assets = dir.join("assets");
    std::fs::create_dir_all(&assets).expect("assets dir");
    std::fs::write(dir.join("index.html"), INDEX).expect("index");
    std::fs::write(assets.join("app.js"), APP_JS).expect("app.js");
    // Not real brotli: the server only picks the file, it never decodes it.
    std::fs::write(assets.join("app.js.br"), b"BROTLI-BYTES").expect("app.js.br");
    std::fs::write(assets.join("app.css"), "body{margin:0}").expect("app.css");
    std::fs::write(
        assets.join("icon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("icon");
    // A file beside the build that no route may reach.
    std::fs::write(dir.join("secret.txt"), "not for the web").expect("secret");
}
