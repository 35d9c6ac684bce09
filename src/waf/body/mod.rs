//! Request body processors (URL-encoded, multipart, JSON, XML) that turn a body into WAF variables.
