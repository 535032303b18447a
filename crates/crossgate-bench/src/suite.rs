//! Every row of the table and the routines measured in it.

use std::collections::HashMap;
use std::hint::black_box;

use tower::Layer;

use crate::cases::{self, Case, Origins};
use crate::measure::{Each, Routine};
use crate::{actix_stack, tower_stack};

/// The framework a row runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stack {
    /// tower / hyper / axum, `http` 1.
    Tower,
    /// actix-web 4.
    Actix,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Tower => "tower",
            Stack::Actix => "actix-web",
        }
    }

    /// The peer crossgate is measured against on this stack.
    pub fn peer(self) -> &'static str {
        match self {
            Stack::Tower => "tower-http",
            Stack::Actix => "actix-cors",
        }
    }
}

/// Who serves the request in a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contender {
    /// Building (and dropping) the request alone: the floor under everything else.
    Construct,
    /// The application without CORS.
    Passthrough,
    Crossgate,
    /// tower-http or actix-cors.
    Peer,
    /// crossgate reading a `LivePolicy` (live rows).
    Live,
    /// One origin added to or removed from a live policy (edit rows).
    Edit,
    /// The same policy built again from its whole configuration (edit rows).
    Rebuild,
    /// The request's origin left to a resolver, its answer cached (resolved rows).
    ResolverHit,
    /// The request's origin left to a resolver, asked every time (the answer forgotten after
    /// each request), the store answering at once (resolved rows).
    ResolverMiss,
}

impl Contender {
    pub const ALL: [Contender; 4] = [
        Contender::Construct,
        Contender::Passthrough,
        Contender::Crossgate,
        Contender::Peer,
    ];

    pub fn id(self, stack: Stack) -> &'static str {
        match self {
            Contender::Construct => "construct",
            Contender::Passthrough => "passthrough",
            Contender::Crossgate => "crossgate",
            Contender::Peer => stack.peer(),
            Contender::Live => "crossgate-live",
            Contender::Edit => "edit-one-origin",
            Contender::Rebuild => "rebuild",
            Contender::ResolverHit => "resolver-cached",
            Contender::ResolverMiss => "resolver-miss",
        }
    }
}

/// What a row measures.
#[derive(Clone, Debug)]
pub enum What {
    /// A request served by an application.
    Request(Case),
    /// Cloning the tower service (axum clones the service for every request it routes, and
    /// `axum::serve` for every connection's requests: `clone().oneshot(request)`).
    Clone(Origins),
    /// A request served with the fixed policy and with the same policy behind a `LivePolicy`.
    Live(Case),
    /// One origin edit on a live policy of this size, and a rebuild of the whole policy.
    Edit(Origins),
    /// A request whose origin the policy lists, beside the same request with the origin left to
    /// a resolver (cached, and asked every time).
    Resolved(Case),
}

/// A row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub stack: Stack,
    pub what: What,
}

impl Row {
    pub fn label(&self) -> String {
        match &self.what {
            What::Request(case) => case.label(),
            What::Clone(origins) => format!("service clone / {}", origins.label()),
            What::Live(case) => case.label(),
            What::Edit(origins) => origins.label(),
            What::Resolved(case) => case.label(),
        }
    }

    /// The criterion group: `tower/get-allowed.1-origins`.
    pub fn group(&self) -> String {
        let id = match &self.what {
            What::Request(case) => case.id(),
            What::Clone(Origins::Exact(n)) => format!("clone.{n}-origins"),
            What::Clone(Origins::Subdomains(n)) => format!("clone.{n}-patterns"),
            What::Live(case) => format!("live.{}", case.id()),
            What::Edit(Origins::Exact(n)) => format!("edit.{n}-origins"),
            What::Edit(Origins::Subdomains(n)) => format!("edit.{n}-patterns"),
            What::Resolved(case) => format!("resolved.{}", case.id()),
        };
        format!("{}/{id}", self.stack.name())
    }

    pub fn case(&self) -> Option<&Case> {
        match &self.what {
            What::Request(case) => Some(case),
            What::Clone(_) | What::Live(_) | What::Edit(_) | What::Resolved(_) => None,
        }
    }
}

/// One measurement: a contender in a row.
pub struct Bench {
    pub row: usize,
    pub contender: Contender,
    pub routine: Box<dyn Routine>,
}

/// The whole suite, in the order it runs.
pub struct Suite {
    pub rows: Vec<Row>,
    pub benches: Vec<Bench>,
}

fn routine(f: impl FnMut() + 'static) -> Box<dyn Routine> {
    Box::new(Each(f))
}

/// The tower routines of one case.
fn tower_case(
    case: &Case,
    policies: &mut HashMap<Origins, (crossgate::tower::CorsLayer, tower_http::cors::CorsLayer)>,
) -> [(Contender, Box<dyn Routine>); 4] {
    let (ours, theirs) = policies
        .entry(case.origins)
        .or_insert_with(|| {
            (
                tower_stack::crossgate_layer(case.origins),
                tower_stack::tower_http_layer(case.origins),
            )
        })
        .clone();
    let template = tower_stack::Template::new(case);
    let t = template.clone();
    let construct = routine(move || {
        black_box(t.request());
    });
    let t = template.clone();
    let mut inner = tower_stack::inner();
    let passthrough = routine(move || {
        black_box(tower_stack::serve(&mut inner, t.request()));
    });
    let t = template.clone();
    let mut service = ours.layer(tower_stack::inner());
    let crossgate = routine(move || {
        black_box(tower_stack::serve(&mut service, t.request()));
    });
    let t = template;
    let mut service = theirs.layer(tower_stack::inner());
    let peer = routine(move || {
        black_box(tower_stack::serve(&mut service, t.request()));
    });
    [
        (Contender::Construct, construct),
        (Contender::Passthrough, passthrough),
        (Contender::Crossgate, crossgate),
        (Contender::Peer, peer),
    ]
}

/// The actix-web routines of one case.
fn actix_case(case: &Case) -> [(Contender, Box<dyn Routine>); 4] {
    let template = actix_stack::Template::new(case);
    let t = template.clone();
    let construct = routine(move || {
        black_box(t.request());
    });
    let t = template.clone();
    let app = actix_stack::passthrough();
    let passthrough = routine(move || {
        black_box(actix_stack::serve(&app, t.request()));
    });
    let t = template.clone();
    let app = actix_stack::crossgate(case.origins);
    let crossgate = routine(move || {
        black_box(actix_stack::serve(&app, t.request()));
    });
    let t = template;
    let app = actix_stack::peer(case.origins);
    let peer = routine(move || {
        black_box(actix_stack::serve(&app, t.request()));
    });
    [
        (Contender::Construct, construct),
        (Contender::Passthrough, passthrough),
        (Contender::Crossgate, crossgate),
        (Contender::Peer, peer),
    ]
}

/// A case served with the fixed policy and with the live one, on one stack.
fn live_case(stack: Stack, case: &Case) -> [(Contender, Box<dyn Routine>); 2] {
    match stack {
        Stack::Tower => {
            let template = tower_stack::Template::new(case);
            let t = template.clone();
            let mut fixed = tower_stack::crossgate_layer(case.origins).layer(tower_stack::inner());
            let crossgate = routine(move || {
                black_box(tower_stack::serve(&mut fixed, t.request()));
            });
            let t = template;
            let mut live =
                tower_stack::crossgate_live_layer(case.origins).layer(tower_stack::inner());
            let live = routine(move || {
                black_box(tower_stack::serve(&mut live, t.request()));
            });
            [(Contender::Crossgate, crossgate), (Contender::Live, live)]
        }
        Stack::Actix => {
            let template = actix_stack::Template::new(case);
            let t = template.clone();
            let fixed = actix_stack::crossgate(case.origins);
            let crossgate = routine(move || {
                black_box(actix_stack::serve(&fixed, t.request()));
            });
            let t = template;
            let live_app = actix_stack::crossgate_live(case.origins);
            let live = routine(move || {
                black_box(actix_stack::serve(&live_app, t.request()));
            });
            [(Contender::Crossgate, crossgate), (Contender::Live, live)]
        }
    }
}

/// One origin edit on a live policy of `origins` (adding an origin, then removing it: the
/// policy keeps its size), beside building the whole policy again.
fn edit_case(origins: Origins) -> [(Contender, Box<dyn Routine>); 2] {
    let live = crossgate::policy::LivePolicy::new(tower_stack::crossgate_policy(origins));
    let mut added = false;
    let edit = routine(move || {
        let extra = ["https://edited.example.com"];
        let result = if added {
            live.remove_origins(extra)
        } else {
            live.add_origins(extra)
        };
        added = !added;
        black_box(result.expect("a valid edit"));
    });
    let config = tower_stack::crossgate_policy(origins).config().clone();
    let rebuild = routine(move || {
        black_box(crossgate::policy::Policy::new(&config).expect("a valid policy"));
    });
    [(Contender::Edit, edit), (Contender::Rebuild, rebuild)]
}

/// A request whose origin is listed, beside the same origin resolved: cached, and missed.
fn resolved_case(case: &Case) -> [(Contender, Box<dyn Routine>); 3] {
    let template = tower_stack::Template::new(case);
    let t = template.clone();
    let mut listed = tower_stack::crossgate_layer(case.origins).layer(tower_stack::inner());
    let crossgate = routine(move || {
        black_box(tower_stack::serve(&mut listed, t.request()));
    });
    // One lookup first (on a runtime, for its timer): every timed request is then a cache hit,
    // answered at once like the listed one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let (layer, _) = tower_stack::crossgate_resolved_layer(case.origins);
    let mut cached = layer.layer(tower_stack::inner());
    tower_stack::serve_on(&runtime, &mut cached, template.request());
    let t = template.clone();
    let hit = routine(move || {
        black_box(tower_stack::serve(&mut cached, t.request()));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let (layer, resolver) = tower_stack::crossgate_resolved_layer(case.origins);
    let mut missed = layer.layer(tower_stack::inner());
    let origin = case.origins.allowed();
    let t = template;
    let miss = routine(move || {
        black_box(tower_stack::serve_on(&runtime, &mut missed, t.request()));
        resolver.forget(&origin);
    });
    [
        (Contender::Crossgate, crossgate),
        (Contender::ResolverHit, hit),
        (Contender::ResolverMiss, miss),
    ]
}

/// Cloning (and dropping) a service.
fn cloning<S: Clone + 'static>(service: S) -> Box<dyn Routine> {
    routine(move || drop(black_box(service.clone())))
}

/// The clone routines for one policy size (no request: construct is not measured).
fn clone_case(origins: Origins) -> [(Contender, Box<dyn Routine>); 3] {
    [
        (Contender::Passthrough, cloning(tower_stack::inner())),
        (
            Contender::Crossgate,
            cloning(tower_stack::crossgate_layer(origins).layer(tower_stack::inner())),
        ),
        (
            Contender::Peer,
            cloning(tower_stack::tower_http_layer(origins).layer(tower_stack::inner())),
        ),
    ]
}

/// Builds every row and routine: the tower rows (requests, then the clones), then actix-web.
pub fn build() -> Suite {
    build_rows(|_| true)
}

/// Builds the rows `wanted` accepts (by their criterion group) and their routines, in the order
/// of [`build`].
pub fn build_rows(wanted: impl Fn(&str) -> bool) -> Suite {
    let mut rows = Vec::new();
    let mut benches = Vec::new();
    let mut policies = HashMap::new();
    let mut candidates: Vec<Row> = Vec::new();
    for case in cases::all() {
        candidates.push(Row {
            stack: Stack::Tower,
            what: What::Request(case),
        });
    }
    for origins in cases::CLONE_POLICIES {
        candidates.push(Row {
            stack: Stack::Tower,
            what: What::Clone(origins),
        });
    }
    for case in cases::all() {
        candidates.push(Row {
            stack: Stack::Actix,
            what: What::Request(case),
        });
    }
    for stack in [Stack::Tower, Stack::Actix] {
        for case in cases::live() {
            candidates.push(Row {
                stack,
                what: What::Live(case),
            });
        }
    }
    for origins in cases::EDIT_POLICIES {
        candidates.push(Row {
            stack: Stack::Tower,
            what: What::Edit(origins),
        });
    }
    for case in cases::resolved() {
        candidates.push(Row {
            stack: Stack::Tower,
            what: What::Resolved(case),
        });
    }
    for row in candidates {
        if !wanted(&row.group()) {
            continue;
        }
        let routines: Vec<(Contender, Box<dyn Routine>)> = match (&row.stack, &row.what) {
            (Stack::Tower, What::Request(case)) => tower_case(case, &mut policies).into(),
            (Stack::Tower, What::Clone(origins)) => clone_case(*origins).into(),
            (Stack::Actix, What::Request(case)) => actix_case(case).into(),
            (Stack::Actix, What::Clone(_)) => unreachable!("axum's clone is a tower row"),
            (stack, What::Live(case)) => live_case(*stack, case).into(),
            (_, What::Edit(origins)) => edit_case(*origins).into(),
            (_, What::Resolved(case)) => resolved_case(case).into(),
        };
        let index = rows.len();
        rows.push(row);
        benches.extend(routines.into_iter().map(|(contender, routine)| Bench {
            row: index,
            contender,
            routine,
        }));
    }
    Suite { rows, benches }
}
