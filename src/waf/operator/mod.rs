//! SecLang operators (`@name param`), one file per name.
