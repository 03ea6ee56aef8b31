"""`ghosthire install` and `ghosthire uninstall`: the pack into (and out of) a running Splunk or Kibana.

Secrets come only from the environment or a hidden prompt, never from a command-line value: `SPLUNK_TOKEN`
or `SPLUNK_USERNAME`/`SPLUNK_PASSWORD`, and `KIBANA_API_KEY`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from ghosthire.commands.common import stderr
from ghosthire.content import shipped_lookups_dir
from ghosthire.deploy.kibana import (
    KibanaClient,
    KibanaTarget,
    countries_index,
    identities_index,
    install_kibana,
    load_rules,
    time_zones_index,
    uninstall_kibana,
)
from ghosthire.deploy.kibana_lists import TuningObjects, tuning_objects
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.deploy.splunk import (
    SplunkCredentials,
    SplunkTarget,
    connect_splunk,
    install_splunk,
    uninstall_splunk,
)
from ghosthire.deploy.splunk_choices import SiteChoices, apply_choices, parse_index_options
from ghosthire.deploy.splunk_package import load_package
from ghosthire.identities.lookups import LookupProblem

F = TypeVar("F", bound=Callable[..., Any])
_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


_common = _options(
    click.option(
        "--dry-run", is_flag=True, help="Show what would change (object, key, old -> new); write nothing."
    ),
    click.option(
        "--ca-file", type=_existing_file, help="PEM file of the CA that signed the server's certificate."
    ),
    click.option(
        "--insecure", is_flag=True, help="Skip TLS certificate verification (throwaway test servers only)."
    ),
    click.option(
        "--retries", type=click.IntRange(1), default=5, show_default=True, help="Attempts per request."
    ),
    click.option(
        "--retry-delay", type=click.FloatRange(0), default=0.5, show_default=True, help="First backoff (s)."
    ),
    click.option(
        "--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True, help="Per request (s)."
    ),
    click.option(
        "--deadline",
        type=click.FloatRange(1),
        default=120.0,
        show_default=True,
        help="Whole run (s): no request waits and no retry starts past it.",
    ),
)
_splunk = _options(
    click.option("--host", envvar="SPLUNK_HOST", default="localhost", show_default=True),
    click.option("--port", envvar="SPLUNK_PORT", type=int, default=8089, show_default=True),
    click.option("--scheme", type=click.Choice(["https", "http"]), default="https", show_default=True),
    click.option("--username", envvar="SPLUNK_USERNAME", help="Ignored when SPLUNK_TOKEN is set."),
)
_kibana = _options(
    click.option(
        "--url", envvar="KIBANA_URL", required=True, help="Kibana base URL, e.g. https://kibana:5601."
    ),
    click.option("--space", envvar="KIBANA_SPACE", help="Kibana space id (default: the default space)."),
    click.option(
        "--rules-file",
        type=click.Path(exists=True, path_type=Path),
        help="The built Kibana rules: an NDJSON file or a folder of them (default: build the pack now).",
    ),
    click.option(
        "--elasticsearch-url",
        envvar="ELASTICSEARCH_URL",
        help="Elasticsearch base URL, for the lookup indices of the triage and identity-checked rules (same API key as Kibana).",
    ),
)


@click.group()
def install() -> None:
    """Install the pack into a running Splunk or Kibana over its API (idempotent; --dry-run to preview)."""


@click.group()
def uninstall() -> None:
    """Remove what `ghosthire install` put into Splunk or Kibana, and nothing else."""


@install.command("splunk")
@click.option(
    "--package", type=_existing_file, help="The built app package (.tgz; default: build the pack now)."
)
@click.option(
    "--enable",
    "enable",
    multiple=True,
    metavar="SELECTOR",
    help="Enable searches (all ship disabled): all, recommended, guidance:<area>, level:<level> (and "
    "above) or search:<name>; repeatable. The triage searches come with any detection.",
)
@click.option(
    "--index",
    "indexes",
    multiple=True,
    metavar="SOURCE=INDEX[,INDEX]",
    help="Read a log source from these indexes instead of index=*: sets the ghosthire_src_<SOURCE> "
    "macro (a prefix such as `windows` covers every windows_* source); repeatable.",
)
@_splunk
@_common
def install_splunk_command(
    package: Path | None, enable: tuple[str, ...], indexes: tuple[str, ...], **options: Any
) -> None:
    """Install the Splunk app's searches, macros, lookups (as KV store collections) and dashboards.

    Authenticates with SPLUNK_TOKEN, or SPLUNK_USERNAME/SPLUNK_PASSWORD (prompted when missing)."""
    choices = SiteChoices(enable, parse_index_options(indexes))
    content = apply_choices(load_package(package or _built_artifact("splunk_app")), choices)
    policy = _policy(options)  # one clock for the whole run: connecting counts against the deadline
    service = connect_splunk(_splunk_target(options), _splunk_credentials(options["username"]), policy)
    install_splunk(service, content, policy, Console(highlight=False), options["dry_run"])


@uninstall.command("splunk")
@_splunk
@_common
def uninstall_splunk_command(**options: Any) -> None:
    """Remove exactly the objects listed in the app's install manifest (ghosthire_install.conf)."""
    policy = _policy(options)
    service = connect_splunk(_splunk_target(options), _splunk_credentials(options["username"]), policy)
    uninstall_splunk(service, policy, Console(highlight=False), options["dry_run"])


@install.command("elastic")
@click.option("--enable", is_flag=True, help="Enable every pack rule (new and existing).")
@click.option(
    "--lookups",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The company's lookups folder (default: the shipped examples); identities and assets feed the "
    "triage rule's lookup index.",
)
@_kibana
@_common
def install_elastic_command(
    enable: bool, lookups: Path | None, rules_file: Path | None, **options: Any
) -> None:
    """Import the detection rules into Kibana and load the triage rule's lookup index into Elasticsearch;
    what already matches is left alone.

    Authenticates with KIBANA_API_KEY (prompted when missing)."""
    rules_path = rules_file or _built_artifact("kibana_rules")
    rules = load_rules(rules_path)
    policy = _policy(options)
    console = Console(highlight=False)
    client = _kibana_client(options, policy)
    lookups = lookups or shipped_lookups_dir()
    tuning = _tuning(rules_path, lookups)
    index_name, countries_name, time_zones_name = _lookup_index_names()
    found = identities_index(lookups, index_name)
    elasticsearch = _elasticsearch_client(options, policy, client)
    indices = []
    if found is not None and elasticsearch is not None:
        index, lookup = found
        watch_problems: list[LookupProblem] = []
        indices += [
            index,
            countries_index(countries_name, lookups, watch_problems),
            time_zones_index(time_zones_name),
        ]
        for problem in [*lookup.problems, *watch_problems]:
            stderr.print(problem)
        for identifier, persons in lookup.conflicts.items():
            stderr.print(
                f"identifier {identifier!r} is claimed by {', '.join(persons)}: left out of {index_name}"
            )
    elif found is not None:
        stderr.print(
            f"lookup indices {index_name}, {countries_name}, {time_zones_name} not loaded: pass "
            "--elasticsearch-url (the triage rule, the identity-checked and the work-pattern rules read them)"
        )
    install_kibana(
        client,
        rules,
        policy,
        console,
        options["dry_run"],
        enable,
        elasticsearch=elasticsearch,
        lookup_indices=indices,
        tuning=tuning,
    )


@uninstall.command("elastic")
@_kibana
@_common
def uninstall_elastic_command(rules_file: Path | None, **options: Any) -> None:
    """Delete the pack's rules (by rule_id, from --rules-file or the pack as built now) from Kibana, and
    with --elasticsearch-url the triage rule's lookup index."""
    rules_path = rules_file or _built_artifact("kibana_rules")
    rule_ids = [str(rule["rule_id"]) for rule in load_rules(rules_path)]
    policy = _policy(options)
    client = _kibana_client(options, policy)
    tuning = _tuning(rules_path, shipped_lookups_dir())
    elasticsearch = _elasticsearch_client(options, policy, client)
    uninstall_kibana(
        client,
        rule_ids,
        policy,
        Console(highlight=False),
        options["dry_run"],
        elasticsearch=elasticsearch,
        lookup_index_names=_lookup_index_names() if elasticsearch else [],
        tuning=tuning,
    )


COMMANDS = [install, uninstall]


def _built_artifact(name: str) -> Path:
    """Build the pack into a directory that lives as long as the command, and return one artifact."""
    from ghosthire.build import build

    directory = click.get_current_context().with_resource(
        tempfile.TemporaryDirectory(prefix="ghosthire-build-")
    )
    with stderr.status("building the pack"):
        return build(Path(directory)).artifacts[name]


def _policy(options: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(
        options["retries"], options["retry_delay"], timeout=options["timeout"], deadline=options["deadline"]
    )


def _check_tls(options: dict[str, Any]) -> None:
    if options["insecure"] and options["ca_file"]:
        raise click.UsageError("--insecure and --ca-file contradict each other; pick one")


def _splunk_target(options: dict[str, Any]) -> SplunkTarget:
    _check_tls(options)
    return SplunkTarget(
        options["host"], options["port"], options["scheme"], options["ca_file"], options["insecure"]
    )


def _splunk_credentials(username: str | None) -> SplunkCredentials:
    token = os.environ.get("SPLUNK_TOKEN")
    if token:
        return SplunkCredentials(token=token)
    username = username or click.prompt("Splunk username", err=True)
    password = os.environ.get("SPLUNK_PASSWORD") or click.prompt(
        f"Splunk password for {username}", hide_input=True, err=True
    )
    return SplunkCredentials(username=username, password=password)


def _tuning(rules_path: Path, lookups: Path) -> TuningObjects | None:
    """The value and exception lists of the run-time filters built next to the rules, filled from the
    lookups; a value a list cannot hold is named with its file and line, and left out."""
    from ghosthire.elastic.exceptions import TUNING_NAME, read_tuning

    path = (rules_path if rules_path.is_dir() else rules_path.parent) / TUNING_NAME
    if not path.exists():
        stderr.print(f"no {TUNING_NAME} next to the rules: no value lists or exception lists installed")
        return None
    tuning = tuning_objects(read_tuning(path), lookups)
    for problem in tuning.problems:
        stderr.print(problem)
    return tuning


def _lookup_index_names() -> tuple[str, str, str]:
    """The identities lookup index (the triage rule's, the identity-checked and work-pattern rules'), the
    countries one (theirs too) and the time-zone one (the work-pattern rules')."""
    from ghosthire.elastic.kibana import load_settings  # the rule writer pulls in pySigma: load it late

    settings = load_settings()
    return (
        settings.person_risk.identities_index,
        settings.identity_checks.countries_index,
        settings.work_patterns.time_zones_index,
    )


def _elasticsearch_client(
    options: dict[str, Any], policy: RetryPolicy, kibana: KibanaClient
) -> KibanaClient | None:
    """A client of Elasticsearch with Kibana's API key and TLS options, when --elasticsearch-url is given."""
    if not options["elasticsearch_url"]:
        return None
    target = KibanaTarget(options["elasticsearch_url"], None, options["ca_file"], options["insecure"])
    api_key = str(kibana.session.headers["Authorization"]).removeprefix("ApiKey ")
    return KibanaClient(target, api_key, policy.request_timeout, service="Elasticsearch")


def _kibana_client(options: dict[str, Any], policy: RetryPolicy) -> KibanaClient:
    _check_tls(options)
    api_key = os.environ.get("KIBANA_API_KEY") or click.prompt("Kibana API key", hide_input=True, err=True)
    target = KibanaTarget(options["url"], options["space"], options["ca_file"], options["insecure"])
    return KibanaClient(target, api_key, policy.request_timeout)
