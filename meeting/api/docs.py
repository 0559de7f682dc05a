"""The API's description: the OpenAPI 3 document that flask-smorest generates from the schemas and the
views (`GET /api/v1/openapi.json`), and a page that presents it to people (`GET /api/v1/docs`).

The page is rendered on the server from the same document, as plain HTML: the site's Content Security
Policy allows no inline or third-party script, and a page that needs none works with any browser and
screen reader."""

from dataclasses import dataclass, field

from flask import Blueprint, current_app, jsonify, render_template

from ..meetings.models import paragraphs
from .base import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


def openapi_document() -> dict:
    return current_app.extensions["meeting_api"].spec.to_dict()


@bp.get("/openapi.json")
@public
def openapi_json():
    return jsonify(openapi_document())


@bp.get("/docs")
def docs_page():
    return render_template("api/docs.html", doc=describe(openapi_document()))


# The document as the page shows it -------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    location: str
    type: str
    required: bool
    description: str


@dataclass
class Response:
    status: str
    description: str
    schema: str  # the name of a component schema, or ""


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: list[list[tuple[str, bool]]]  # prose()
    public: bool
    parameters: list[Parameter]
    body: str  # the name of the request body's schema, or ""
    responses: list[Response]

    @property
    def anchor(self) -> str:
        return f"{self.method}-{self.path}".lower().replace("/", "-").replace("{", "").replace("}", "")


@dataclass
class Property:
    name: str
    type: str
    required: bool
    nullable: bool
    description: str


@dataclass
class SchemaDescription:
    name: str
    description: str
    properties: list[Property]


@dataclass
class Tag:
    name: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Description:
    title: str
    version: str
    description: list[list[tuple[str, bool]]]  # prose()
    tags: list[Tag]
    schemas: list[SchemaDescription]

    @property
    def schema_names(self) -> set[str]:
        return {schema.name for schema in self.schemas}


def prose(text: str) -> list[list[tuple[str, bool]]]:
    """Text as paragraphs, each a list of (words, is_code) pieces: `backquoted` words are code."""
    return [
        [(piece, index % 2 == 1) for index, piece in enumerate(" ".join(lines).split("`")) if piece]
        for lines in paragraphs(text)
    ]


def ref_name(schema: dict) -> str:
    ref = schema.get("$ref", "")
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else ""


def type_text(schema: dict) -> str:
    """A JSON schema in a few words: "integer (1 to 100)", "array of Meeting", "one of: a, b"."""
    if ref_name(schema):
        return ref_name(schema)
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {type_text(schema.get('items', {}))}"
    elif kind == "object" and "additionalProperties" in schema:
        text = f"object of {type_text(schema['additionalProperties'])}"
    else:
        text = kind
    if "format" in schema:
        text += f" ({schema['format']})"
    if "enum" in schema:
        text += ", one of: " + ", ".join("null" if value is None else str(value) for value in schema["enum"])
    bounds = [schema.get(name) for name in ("minimum", "maximum")]
    if any(bound is not None for bound in bounds):
        text += f", from {bounds[0] if bounds[0] is not None else '…'} to {bounds[1] if bounds[1] is not None else '…'}"
    if "maxLength" in schema:
        text += f", at most {schema['maxLength']} characters"
    if "default" in schema:
        text += f", default {schema['default']}"
    return text


def _parameters(path_item: dict, operation: dict) -> list[Parameter]:
    return [
        Parameter(
            name=parameter["name"],
            location=parameter["in"],
            type=type_text(parameter.get("schema", {})),
            required=bool(parameter.get("required")),
            description=parameter.get("description", ""),
        )
        for parameter in path_item.get("parameters", []) + operation.get("parameters", [])
    ]


def _json_schema(content_holder: dict) -> dict:
    return content_holder.get("content", {}).get("application/json", {}).get("schema", {})


def _responses(document: dict, operation: dict) -> list[Response]:
    responses = []
    for status, response in operation.get("responses", {}).items():
        if "$ref" in response:
            response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        responses.append(Response(str(status), response.get("description", ""), ref_name(_json_schema(response))))
    return sorted(responses, key=lambda response: (response.status == "default", response.status))


def describe(document: dict) -> Description:
    tags: dict[str, Tag] = {}
    default_security = document.get("security", [])
    for path, path_item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            tag = operation.get("tags", ["API"])[0]
            tags.setdefault(tag, Tag(tag)).operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=operation.get("summary", ""),
                    description=prose(operation.get("description", "")),
                    public=operation.get("security", default_security) == [],
                    parameters=_parameters(path_item, operation),
                    body=ref_name(_json_schema(operation.get("requestBody", {}))),
                    responses=_responses(document, operation),
                )
            )
    schemas = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas.append(
            SchemaDescription(
                name=name,
                description=schema.get("description", ""),
                properties=[
                    Property(
                        name=property_name,
                        type=type_text(property_schema),
                        required=property_name in required,
                        nullable=bool(property_schema.get("nullable")),
                        description=property_schema.get("description", ""),
                    )
                    for property_name, property_schema in schema.get("properties", {}).items()
                ],
            )
        )
    info = document.get("info", {})
    return Description(
        title=info.get("title", ""),
        version=info.get("version", ""),
        description=prose(info.get("description", "")),
        tags=list(tags.values()),
        schemas=schemas,
    )
