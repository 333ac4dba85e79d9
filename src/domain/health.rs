//! Liveness: which component serves each part of the service. It does no
//! I/O, so it measures the HTTP stack alone and stays up while a dependency
//! is slow; storage failures show on the requests that need storage.

/// Component names as liveness reports them.
pub struct Services {
    pub ratelimit: &'static str,
    pub usagelimit: &'static str,
    pub analytics: &'static str,
    pub logger: &'static str,
    pub metrics: &'static str,
}

pub const SERVICES: Services = Services {
    ratelimit: "in-process",
    usagelimit: "sqlite",
    analytics: "sqlite",
    logger: "bunyan-stderr",
    metrics: "none",
};
