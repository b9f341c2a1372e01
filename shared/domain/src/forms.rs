//! Public forms (SPEC: Forms).
