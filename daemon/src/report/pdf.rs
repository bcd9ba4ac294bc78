//! The report typeset as a PDF in-process with typst: the layout is `report.typ`, embedded
//! in the binary; the content is the report's view as JSON, read by the layout as data (so
//! nothing in it is ever taken as markup); fonts are typst's embedded ones; nothing is read
//! from the disk or the network.

use super::view::View;
use std::sync::LazyLock;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

/// The report's layout.
const LAYOUT: &str = include_str!("report.typ");

/// Why a PDF cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The layout failed on this content.
    #[error("the report cannot be typeset: {0}")]
    Typeset(String),
    /// The content cannot be given to the layout.
    #[error("the report's content cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What every report shares: the standard library and the embedded fonts, loaded once.
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    Shared {
        library: LazyHash::new(Library::builder().build()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
    }
});

/// The id of a file of the report's virtual project.
fn file_id(path: &str) -> Result<FileId, PdfError> {
    let vpath = VirtualPath::new(path).map_err(|e| PdfError::Typeset(format!("{path}: {e}")))?;
    Ok(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
}

/// One report's files: the layout, its content and the logo.
struct ReportWorld {
    main: Source,
    data: (FileId, Bytes),
    logo: Option<(FileId, Bytes)>,
    today: Option<Datetime>,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &SHARED.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &SHARED.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data.0 {
            return Ok(self.data.1.clone());
        }
        match &self.logo {
            Some((logo, bytes)) if *logo == id => Ok(bytes.clone()),
            _ => Err(FileError::AccessDenied),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        SHARED.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}

/// Typesets `view` as a PDF. `logo` is the logo's file extension and bytes; a logo the
/// layout cannot decode is left out and said in the second value, the report made without it.
pub fn pdf(
    view: &View,
    logo: Option<(&str, &[u8])>,
) -> Result<(Vec<u8>, Option<String>), PdfError> {
    match typeset(view, logo) {
        Ok(pdf) => Ok((pdf, None)),
        Err(e) if logo.is_some() => {
            let pdf = typeset(view, None)?;
            Ok((pdf, Some(e.to_string())))
        }
        Err(e) => Err(e),
    }
}

fn typeset(view: &View, logo: Option<(&str, &[u8])>) -> Result<Vec<u8>, PdfError> {
    let mut data = serde_json::to_value(view)?;
    let logo = match logo {
        Some((ext, bytes)) => {
            let path = format!("/logo.{ext}");
            if let Some(obj) = data.as_object_mut() {
                obj.insert("logo".into(), serde_json::Value::String(path.clone()));
            }
            Some((file_id(&path)?, Bytes::new(bytes.to_vec())))
        }
        None => None,
    };
    let world = ReportWorld {
        main: Source::new(file_id("/report.typ")?, LAYOUT.to_string()),
        data: (
            file_id("/report.json")?,
            Bytes::new(serde_json::to_vec(&data)?),
        ),
        logo,
        today: Datetime::from_ymd(
            view.generated.year,
            view.generated.month,
            view.generated.day,
        ),
    };
    let said = |diags: typst::diag::EcoVec<typst::diag::SourceDiagnostic>| {
        diags
            .iter()
            .map(|d| d.message.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let out = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(said)
        .and_then(|doc| typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map_err(said));
    // The compiler's caches are for editing the same document again; a daemon making a
    // report a month does not keep them.
    typst::comemo::evict(0);
    out.map_err(PdfError::Typeset)
}
