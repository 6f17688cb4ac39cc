"""Grading matrix of lab 01 against the live sandbox, graded by real nbgrader."""

from matrix import GradingMatrix

LAB = "01-instrumentation"
FULL = {"ex1": 3, "ex2": 2, "ex3": 3, "ex4": 3, "ex5": 3}

HANDLER_RAW_PATH = '''
registry = CollectorRegistry()
http_requests = Counter("http_requests_total", "Requests", ["route", "code"], registry=registry)
http_duration = Histogram("http_request_duration_seconds", "Latency", ["route"], buckets=LATENCY_BUCKETS, registry=registry)

def get_product(product_id):
    route = f"/products/{product_id}"
    with http_duration.labels(route).time():
        product = products.get(product_id)
        code, body = (200, product) if product else (404, {"error": "not found"})
    http_requests.labels(route, str(code)).inc()
    return code, body
'''

WRONG_A = {  # raw path as the route label; prometheus_client's default buckets; metrics counted instead of series
    "ex1-handler-answer": HANDLER_RAW_PATH,
    "ex3-buckets-answer": (
        "buckets = Histogram.DEFAULT_BUCKETS\n"
        "checkout_buckets = histograms.bucket_counts(latencies, buckets)\n"
        "good_ratio = dict(checkout_buckets)[0.25] / checkout_buckets[-1][1]\n"
        "series_per_route = len(buckets) + 3\n"
    ),
    "ex5-cardinality-answer": (
        "by_route, by_user = CollectorRegistry(), CollectorRegistry()\n"
        "route_requests = Counter('shop_requests_total', 'Requests by route', ['route'], registry=by_route)\n"
        "user_requests = Counter('shop_requests_total', 'Requests by user', ['user_id'], registry=by_user)\n"
        "for route, user in traffic:\n"
        "    route_requests.labels(route).inc()\n"
        "    user_requests.labels(user).inc()\n"
        "series_by_route = sum(len(metric.samples) for metric in by_route.collect())\n"
        "series_by_user = sum(len(metric.samples) for metric in by_user.collect())\n"
        "bytes_by_route = len(generate_latest(by_route))\n"
        "bytes_by_user = len(generate_latest(by_user))\n"
        "cost_ratio = bytes_by_user / bytes_by_route\n"
    ),
}
WRONG_B = {  # a gauge for a request count; p99 read as the bucket's upper edge instead of interpolated
    "ex2-types-answer": (
        "metric_types = {'requests_answered': 'gauge', 'requests_in_flight': 'gauge', 'request_duration': 'histogram',\n"
        "                'payment_timeouts': 'counter', 'queue_depth': 'gauge', 'order_value': 'histogram',\n"
        "                'resident_memory': 'gauge'}\n"
    ),
    "ex4-quantile-answer": (
        "rank = 0.99 * shop_buckets[-1][1]\n"
        "p99_estimate = next(le for le, count in shop_buckets if count >= rank)\n"
        "p99_exact = float(np.quantile(latencies, 0.99))\n"
        "p99_error = (p99_estimate - p99_exact) / p99_exact\n"
    ),
}


class TestLab01(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex1", "ex3", "ex5"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
