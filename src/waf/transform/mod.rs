//! SecLang transformations (`t:name`), one file per name.
