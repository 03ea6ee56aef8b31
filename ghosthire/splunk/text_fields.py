"""Values written inside JSON text, as Splunk fields: one macro per text field of a log source.

The Entra ID audit log keeps what an entry changed as JSON text inside `modifiedProperties[].newValue`
(the MFA phone an "Update user" entry sets is in StrongAuthenticationUserDetails). The local hunt reads
such a value with the source's `text_fields` (backends/local/sources.yml, ghosthire.model.sources.TextField);
the Splunk macro here is generated from the same definition, so both read the same value: the list's
objects (spath), the first whose members match (mvfilter), its member's JSON text read at the path
(spath input=), digits only where the definition says so. The Splunk pipeline maps the Sigma field to the
macro's output field and puts the macro in front of the rules that read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ghosthire.errors import ContentError
from ghosthire.model.sources import TextField, source_by_id

# The sources whose records Splunk indexes with the entry under a prefix (Event Hub's `properties`), and
# the text fields of each that Splunk reads: Sigma field -> the Splunk field the macro writes.
SPLUNK_TEXT_FIELDS: dict[str, tuple[str, dict[str, str]]] = {
    "entra_audit": ("properties.", {"mfaPhoneNumber": "entra_mfa_phone_number"}),
}


@dataclass(frozen=True)
class SplunkTextField:
    """A text field and the Splunk field its macro (`ghosthire_<output>`) writes."""

    sigma_field: str
    output: str
    prefix: str
    definition: TextField

    @property
    def macro(self) -> str:
        return f"ghosthire_{self.output}"

    def spl(self) -> str:
        """The macro definition (see the module docstring); an event without the value gets no field."""
        items, scratch = f"_gh_{self.output}_items", f"_gh_{self.output}_text"
        tests = " AND ".join(
            f'json_extract({items}, "{key}")="{value}"' for key, value in self.definition.where.items()
        )
        value = f"mvindex(_gh_{self.output}_values, 0)"
        if self.definition.digits:
            value = f'replace({value}, "[^0-9]", "")'
        return "\n".join(
            [
                f"spath path={_spath(self.prefix + self.definition.items)}{{}} output={items}",
                f'| eval {scratch}=json_extract(mvindex(mvfilter({tests}), 0), "{self.definition.member}")',
                f"| spath input={scratch} path={_spath(self.definition.path)} output=_gh_{self.output}_values",
                f"| eval {self.output}={value}",
                f"| eval {self.output}=if(len({self.output}) > 0, {self.output}, null())",
            ]
        )


def splunk_text_fields() -> list[SplunkTextField]:
    found = []
    for source_id, (prefix, outputs) in SPLUNK_TEXT_FIELDS.items():
        text_fields = source_by_id(source_id).text_fields
        for sigma_field, output in outputs.items():
            if sigma_field not in text_fields:
                raise ContentError(
                    "backends/local/sources.yml", f"{source_id} has no text field {sigma_field!r} for Splunk"
                )
            found.append(SplunkTextField(sigma_field, output, prefix, text_fields[sigma_field]))
    return found


def _spath(path: str) -> str:
    """A dotted path with list indices as a Splunk spath path: every element (`{}`), of which the
    macro keeps the first, so only index 0 can be expressed."""
    steps: list[str] = []
    for step in path.split("."):
        if not step.isdigit():
            steps.append(step)
        elif step != "0":
            raise ContentError("backends/local/sources.yml", f"{path}: Splunk reads only index 0 of a list")
        elif steps:
            steps[-1] += "{}"
        else:
            steps.append("{}")
    return ".".join(steps)
