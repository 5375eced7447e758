//! The one table the bench prints: each measure, its figure, the target and whether the
//! figure meets it.

use std::fmt::Write as _;

pub struct Row {
    pub measure: String,
    pub figure: String,
    pub target: &'static str,
    /// `None`: no target, or nothing measured.
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// What could not be measured as asked (errors, words never heard, dials never made): the
    /// smoke test requires none.
    pub problems: Vec<String>,
}

impl Table {
    pub fn row(
        &mut self,
        measure: impl Into<String>,
        figure: impl Into<String>,
        target: &'static str,
        met: Option<bool>,
    ) {
        let (measure, figure) = (measure.into(), figure.into());
        // As it is measured: a full run takes minutes.
        eprintln!("{measure}: {figure}");
        self.rows.push(Row {
            measure,
            figure,
            target,
            met,
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Something went wrong in a measure; printed as a note too.
    pub fn problem(&mut self, problem: impl Into<String>) {
        let problem = problem.into();
        self.notes.push(format!("problem: {problem}"));
        self.problems.push(problem);
    }

    /// The table as Markdown, ready for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| Measure | Figure | Target | Met |\n|---|---|---|---|\n");
        for row in &self.rows {
            let met = match row.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {met} |",
                row.measure, row.figure, row.target
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n- {note}");
        }
        out
    }
}
