import Hummingbird

/// `GET /metrics`: Prometheus text exposition (version 0.0.4) of every loop, for a scraper
/// holding a personal token.
struct MetricsRoutes: Sendable {
    let state: DaemonState

    var collection: RouteCollection<ReviewContext> {
        let routes = RouteCollection(context: ReviewContext.self)
        routes.get("metrics", use: metrics)
        return routes
    }

    @Sendable func metrics(_ request: Request, context: ReviewContext) throws -> PlainText {
        PlainText(text: Metrics.render(state), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
