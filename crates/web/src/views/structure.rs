//! The structure pages: the tree editor, the team's segment sets, and the segment-set editor.
//! Each editor checks what is typed as it changes (the MECE check of a tree, the partition
//! check of a set) through the API's draft checks, before anything is saved.

use askama::Template;

use super::Layout;

#[derive(Template)]
#[template(path = "pages/tree_editor.html")]
pub struct TreeEditorPage {
    pub layout: Layout,
    /// `None` for a new tree.
    pub slug: Option<String>,
    pub title: String,
    /// The branches as the API takes them (JSON), for the page's script.
    pub branches_json: String,
    /// Where the tree comes from, in words ("built in", "saved, version 3"…).
    pub source: String,
    /// Saved by the team: it can be deleted (built-in and pack trees cannot).
    pub deletable: bool,
    /// (key, name) of every KPI of the team, for the "add a KPI" lists.
    pub kpis: Vec<(String, String)>,
}

/// One segment set as the list shows it.
pub struct SetRow {
    pub name: String,
    pub version: i32,
    /// Each segment's name and its filter in words.
    pub segments: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "pages/segment_sets.html")]
pub struct SegmentSetsPage {
    pub layout: Layout,
    pub can_edit: bool,
    pub sets: Vec<SetRow>,
}

#[derive(Template)]
#[template(path = "pages/segment_editor.html")]
pub struct SegmentEditorPage {
    pub layout: Layout,
    /// `None` for a new set.
    pub name: Option<String>,
    /// `{"segments": […]}` as the API takes it, for the page's script.
    pub set_json: String,
    /// The period the partition check reads (the last complete week by default).
    pub period: String,
    /// Fields the filters may read: the dimensions and the team's `attrs.*` keys seen so far.
    pub fields: Vec<String>,
}
