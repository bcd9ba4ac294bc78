//! The report as one self-contained HTML page (maud, every value escaped): the dashboard's
//! and the archive's copy of what the PDF shows, the charts drawn in inline SVG and the logo
//! embedded as a data URI.

use super::view::{Chart, View};
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Width and height of a chart, in SVG units.
const CHART: (f64, f64) = (620.0, 120.0);

fn chart(c: &Chart, w: &super::view::Words) -> Markup {
    let (width, height) = CHART;
    let n = c.bars.len().max(1) as f64;
    let slot = (width - 40.0) / n;
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {}", height + 16.0)) role="img" aria-label=(w.daily) {
                line x1="40" y1="0" x2=(width) y2="0" class="grid" {}
                line x1="40" y1=(height) x2=(width) y2=(height) class="grid" {}
                text x="36" y="8" text-anchor="end" { "100 %" }
                text x="36" y=(height) text-anchor="end" { (c.floor) }
                @for (i, b) in c.bars.iter().enumerate() {
                    @let h = if b.state == "none" { 2.0 } else { b.height * height };
                    @let x = 40.0 + i as f64 * slot;
                    rect x=(format!("{:.1}", x + 1.0)) y=(format!("{:.1}", height - h))
                        width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{:.1}", h))
                        class=(b.state) {
                        title { (b.day) " : " (b.rate) }
                    }
                    @if b.day == 1 || b.day % 5 == 0 {
                        text x=(format!("{:.1}", x + slot / 2.0)) y=(height + 13.0) text-anchor="middle" { (b.day) }
                    }
                }
            }
            figcaption {
                (w.daily) " — "
                span.key.down {} " " (w.legend_down) " · "
                span.key.none {} " " (w.legend_none)
            }
        }
    }
}

/// The page of `v`; `logo` is the logo's media type and bytes.
pub fn page(v: &View, logo: Option<(&str, &[u8])>) -> String {
    let w = v.words;
    let css = format!("{CSS}:root{{--main:{};--accent:{}}}", v.colour, v.accent);
    let logo = logo.map(|(mime, bytes)| {
        format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    });
    let page: Markup = html! {
        (DOCTYPE)
        html lang=(v.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (w.title) " — " (v.client) " — " (v.period) }
                style { (PreEscaped(css)) }
            }
            body {
                header {
                    @if let Some(src) = &logo {
                        img.logo src=(src) alt=(v.company);
                    }
                    @if !v.company.is_empty() {
                        p.company { (v.company) }
                    }
                    h1 { (w.title) }
                    p.client { (v.client) " — " (v.period) }
                    p.global { (w.global) " : " strong { (v.global) } }
                    @if let Some(e) = v.empty {
                        p.empty { (e) }
                    }
                }
                section {
                    h2 { (w.per_site) }
                    @for s in &v.sites {
                        h3 { (s.name) " — " (s.rate) }
                        (chart(&s.chart, w))
                        table {
                            thead { tr {
                                th { (w.equipment) }
                                th { (w.availability) }
                                th { (w.down) }
                                th { (w.unreachable) }
                                th { (w.maintenance) }
                                th { (w.unsupervised) }
                            } }
                            tbody {
                                @for e in &s.equipment {
                                    tr {
                                        td { (e.name) }
                                        td.num { (e.rate) }
                                        td.num { (e.down) }
                                        td.num { (e.unreachable) }
                                        td.num { (e.maintenance) }
                                        td.num { (e.unsupervised) }
                                    }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { (w.incidents) }
                    @if v.incidents.is_empty() {
                        p { (w.no_incident) }
                    } @else {
                        table {
                            thead { tr {
                                th { "#" }
                                th { (w.start) }
                                th { (w.duration) }
                                th { (w.severity) }
                                th { (w.what) }
                                th { (w.resolution) }
                                th { (w.ticket) }
                            } }
                            tbody {
                                @for i in &v.incidents {
                                    tr {
                                        td { (i.number) }
                                        td { (i.start) }
                                        td { (i.duration) }
                                        td { (i.severity) }
                                        td { (i.what) }
                                        td { (i.resolution) }
                                        td { (i.ticket) }
                                    }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { (w.trends) }
                    @if v.recommendations.is_empty() {
                        p { (w.no_signal) }
                    } @else {
                        ul.recommendations {
                            @for r in &v.recommendations {
                                li class=(r.priority) { span.priority { (r.label) } " " (r.text) }
                            }
                        }
                    }
                }
                footer {
                    h2 { (w.method_title) }
                    p { (w.method) }
                    p.generated { (w.made_on) " " (v.generated.text) }
                }
            }
        }
    };
    page.into_string()
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.6rem;color:var(--main)}h2{margin-top:2rem;border-bottom:2px solid var(--main);color:var(--main)}\
img.logo{max-height:4rem;max-width:14rem}.company{font-weight:600}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border-bottom:1px solid #e0e0e0;padding:.3rem .5rem;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.global strong{font-size:1.4rem}\
figure.chart{margin:.5rem 0}figure.chart svg{width:100%;height:auto;font-size:9px;fill:#555}\
svg .grid{stroke:#ccc}svg rect.full{fill:var(--main)}svg rect.down{fill:var(--accent)}svg rect.none{fill:#bbb}\
figcaption{font-size:.8rem;color:#555}.key{display:inline-block;width:.8em;height:.8em}.key.down{background:var(--accent)}.key.none{background:#bbb}\
.priority{font-weight:600}li.high .priority{color:var(--accent)}.empty{font-style:italic}\
footer{margin-top:2rem;font-size:.85rem;color:#555}footer h2{font-size:1rem}";
