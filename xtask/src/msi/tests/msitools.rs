//! msitools tests.
