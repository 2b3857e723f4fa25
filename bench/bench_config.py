"""Benchmark: CPU time to load and validate a big task file (``tasksync.config.load``).

    python bench/bench_config.py --tasks 10000 [--repeat 5]

Writes a realistic file to a temporary folder (defaults, x- anchors, three Actors, inputs with
lists, nested mappings and long strings, ``${VAR}`` secrets, ignore lists, merge mode), then loads
it ``--repeat`` times and prints the CPU seconds (``time.process_time``) of each load, the best and
the median, the CPU per task, and how the best load splits into its three passes (YAML events to
values, the JSON Schema, then defaults and ``${VAR}`` per task).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from tasksync import config
from tasksync.config import loader, tasks, validation, yamlread

ENVIRON = {"NEWS_API_KEY": "k-news", "CRAWLER_API_KEY": "k-crawler", "SERP_COOKIE": "c=1"}


def task_file(tasks: int) -> str:
    lines = [
        "# yaml-language-server: $schema=tasks.schema.json",
        "version: 1",
        "safety: {maxChangedFraction: 0.3, minTasks: 10}",
        "x-proxy: &proxy",
        "  {useApifyProxy: true, apifyProxyGroups: [RESIDENTIAL], apifyProxyCountry: US}",
        "x-page-function: &page-function |",
        "  async function pageFunction(context) {",
        "    const { request, jQuery: $ } = context;",
        "    return { url: request.url, title: $('h1').first().text().trim() };",
        "  }",
        "defaults:",
        "  options: {build: latest, memoryMbytes: 1024, timeoutSecs: 3600}",
        "  input:",
        "    proxyConfiguration: {useApifyProxy: true}",
        "tasks:",
    ]
    for i in range(tasks):
        kind = i % 3
        if kind == 0:
            lines += [
                f"  - task: janedoe~news-{i:06d}",
                f"    title: News {i}",
                f"    options: {{timeoutSecs: {300 + i % 600}, memoryMbytes: 2048}}",
                "    input:",
                "      startUrls:",
                f"        - url: https://example.com/news/{i}",
                f"        - {{url: 'https://example.org/{i}', userData: {{page: {i}}}}}",
                "      linkSelector: a.article-link",
                "      pageFunction: *page-function",
                f"      maxPagesPerCrawl: {i % 500 + 1}",
                "      apiKey: ${NEWS_API_KEY}",
                "      proxyConfiguration: *proxy",
                "    ignore: [/input/cursor]",
            ]
        elif kind == 1:
            lines += [
                f"  - task: janedoe~docs-{i:06d}",
                "    actor: apify~website-content-crawler",
                "    options: {memoryMbytes: 4096, maxTotalChargeUsd: 5}",
                "    input:",
                f"      startUrls: [{{url: 'https://docs{i}.example.com/'}}]",
                "      crawlerType: playwright:adaptive",
                f"      maxCrawlDepth: {i % 7}",
                "      maxCrawlPages: 5000",
                "      saveMarkdown: true",
                "      apiKey: ${CRAWLER_API_KEY:-demo-key}",
                "      excludeUrlGlobs: [{glob: '**/*.pdf'}, {glob: '**/login'}]",
            ]
        else:
            lines += [
                f"  - task: janedoe~serp-{i:06d}",
                f"    description: Brand searches, batch {i}",
                "    inputMode: merge",
                "    options: {memoryMbytes: 512, maxItems: 1000, restartOnError: true}",
                "    input:",
                f'      queries: "brand {i}\\nbrand {i} reviews"',
                "      countryCode: us",
                "      resultsPerPage: 100",
                "      maxPagesPerQuery: 2",
                "      customHeaders: {cookie: '${SERP_COOKIE}'}",
                "    sensitive: [/input/customHeaders]",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tasks.yaml"
        path.write_text(task_file(args.tasks), encoding="utf-8")
        size = path.stat().st_size
        runs = []
        for _ in range(args.repeat):
            start = time.process_time()
            cfg = config.load(path, environ=ENVIRON)
            runs.append(time.process_time() - start)
        assert len(cfg.tasks) == args.tasks

        data = path.read_bytes()
        text = data.decode("utf-8")
        phases = []
        with loader.gc_paused():  # as load does
            start = time.process_time()
            document = yamlread.read(data, text)
            phases.append(("YAML -> values", time.process_time() - start))
            start = time.process_time()
            issues = validation.check(document.value)
            phases.append(("JSON Schema", time.process_time() - start))
            start = time.process_time()
            tasks.build(document.value, document.task_positions, ENVIRON, str(path))
            phases.append(("defaults, ${VAR}, specs", time.process_time() - start))
        assert not issues

    best = min(runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {args.tasks} tasks, {size / 1e6:.1f} MB")
    print("load + validate, CPU seconds per run: " + ", ".join(f"{r:.3f}" for r in runs))
    print(f"best {best:.3f} s, median {statistics.median(runs):.3f} s")
    print(f"CPU per task (best): {best / args.tasks * 1e6:.0f} us")
    print("passes of one load: " + ", ".join(f"{name} {sec:.3f} s" for name, sec in phases))
    print(f"peak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
