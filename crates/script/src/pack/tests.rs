//! The KPI pack loader's tests. The helpers the topics share are here; each topic has its file
//! below `pack/tests/`.

mod declarations;
mod loading;
mod shipped;

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::data::ScriptContext;

fn shipped_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("../../scripts")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create the pack folder");
    }
    fs::write(path, text).expect("write a pack file");
}

const GOOD_KPI: &str = r#"
[[kpi]]
key = "double_leads"
name = "Double leads"
unit = "count"
direction = "higher_is_better"
kind = "leading"
category = "Lead volume & quality"
script = "double.rhai"
"#;

fn good_pack(dir: &Path, folder: &str, pack_name: &str) {
    write(
        &dir.join(folder).join("plugin.toml"),
        &format!("[pack]\nname = \"{pack_name}\"\nversion = \"0.1.0\"\n{GOOD_KPI}"),
    );
    write(
        &dir.join(folder).join("double.rhai"),
        "metric(\"leads\") * 2\n",
    );
}

fn kpi_entry(key: &str, unit: &str, script: &str) -> String {
    format!(
        "[[kpi]]\nkey = \"{key}\"\nname = \"{key}\"\nunit = \"{unit}\"\ndirection = \"lower_is_better\"\nkind = \"trailing\"\ncategory = \"Cost efficiency\"\nscript = \"{script}\"\n"
    )
}

fn week() -> ScriptContext {
    ScriptContext {
        period_key: "2026-11".into(),
        period_days: 30,
        segment: None,
        ..Default::default()
    }
}

/// Read at run time: `env!` bakes in the checkout that compiled the test binary.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
}
