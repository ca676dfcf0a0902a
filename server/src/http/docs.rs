//! What the OpenAPI document learns from each handler's types (through
//! [`aide`]): our extractors say what they read (a JSON body, query
//! parameters), [`ApiError`] says what a refusal looks like, and
//! [`Documented`] wraps an answer whose body is not JSON (a PNG, a CSV)
//! or that carries extra headers, so it still names its content type.
//!
//! Nothing here runs when a request is served: aide calls these while
//! [`crate::router::openapi::build`] walks the route table.

use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, ReferenceOr, Response as ApiResponse, SchemaObject};
use aide::operation::{
    add_parameters, parameters_from_schema, OperationInput, OperationOutput, ParamLocation,
};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use schemars::JsonSchema;

use super::extract::{ClientAddr, Principal, StrictJson, StrictQuery};
use super::ApiError;

impl OperationInput for Principal {}
impl OperationInput for ClientAddr {}

impl<T: JsonSchema> OperationInput for StrictJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        <axum::Json<T> as OperationInput>::operation_input(ctx, operation);
    }
}

impl<T: JsonSchema> OperationInput for StrictQuery<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Query);
        add_parameters(ctx, operation, params);
    }
}

/// The body of every refusal: `{error, detail, hint}` (some add facts,
/// e.g. a compile's `diagnostics` or the sentence `said` in the user's
/// language).
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
struct ErrorBody {
    /// Stable machine-readable code, e.g. `forbidden`.
    error: String,
    /// What went wrong, in words.
    detail: String,
    /// What to do about it.
    hint: String,
}

impl OperationOutput for ApiError {
    type Inner = Self;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<ApiResponse> {
        <axum::Json<ErrorBody> as OperationOutput>::operation_response(ctx, operation).map(|mut r| {
            r.description = "refused: `error` is a stable code, `detail` says what went wrong, `hint` what to do".to_owned();
            r
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, ApiResponse)> {
        match Self::operation_response(ctx, operation) {
            // One entry for every 4xx/5xx: the codes differ by route.
            Some(response) => vec![(None, response)],
            None => Vec::new(),
        }
    }
}

/// A JSON answer with status `N` (201 Created, 202 Accepted).
pub struct Status<const N: u16, T>(pub T);

/// 201 with a JSON body.
pub type Created<T> = Status<201, T>;
/// 202 with a JSON body.
pub type Accepted<T> = Status<202, T>;

impl<const N: u16, T: serde::Serialize> IntoResponse for Status<N, T> {
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(N).unwrap_or(axum::http::StatusCode::OK);
        (status, axum::Json(self.0)).into_response()
    }
}

impl<const N: u16, T: JsonSchema> OperationOutput for Status<N, T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<ApiResponse> {
        <axum::Json<T> as OperationOutput>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, ApiResponse)> {
        match Self::operation_response(ctx, operation) {
            Some(response) => vec![(Some(N), response)],
            None => Vec::new(),
        }
    }
}

/// An answer whose body is documented by its content type and, for JSON,
/// by `T`'s schema: `Documented::<T>::json(resp)` for a JSON body built
/// with extra headers (cookies, ETag), `Documented::<Png>::new(resp)` for
/// a binary body.
pub struct Documented<T> {
    response: Response,
    body: std::marker::PhantomData<T>,
}

impl<T> Documented<T> {
    /// Wraps an already built response.
    pub fn new(response: Response) -> Self {
        Documented {
            response,
            body: std::marker::PhantomData,
        }
    }
}

impl<T> IntoResponse for Documented<T> {
    fn into_response(self) -> Response {
        self.response
    }
}

/// What a [`Documented`] body is.
pub trait BodyKind {
    /// The content type named in the document.
    const CONTENT_TYPE: &'static str;
    /// One line for the response's description.
    const DESCRIPTION: &'static str;
    /// The body's schema, when it is JSON.
    fn schema(_ctx: &mut GenContext) -> Option<schemars::Schema> {
        None
    }
}

/// A JSON body of type `T` (sent with headers the handler sets).
pub struct JsonBody<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> BodyKind for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";
    const DESCRIPTION: &'static str = "done";
    fn schema(ctx: &mut GenContext) -> Option<schemars::Schema> {
        Some(ctx.schema.subschema_for::<T>())
    }
}

/// This API's own OpenAPI document.
pub struct OpenApiDocument;

impl BodyKind for OpenApiDocument {
    const CONTENT_TYPE: &'static str = "application/json";
    const DESCRIPTION: &'static str = "this document";
    fn schema(_ctx: &mut GenContext) -> Option<schemars::Schema> {
        Some(schemars::json_schema!({
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": {"type": "string"}, "info": {"type": "object"}, "paths": {"type": "object"}}
        }))
    }
}

macro_rules! body_kind {
    ($(#[$doc:meta])* $name:ident, $ct:literal, $desc:literal) => {
        $(#[$doc])*
        pub struct $name;
        impl BodyKind for $name {
            const CONTENT_TYPE: &'static str = $ct;
            const DESCRIPTION: &'static str = $desc;
        }
    };
}

body_kind!(/// A PNG image.
    Png, "image/png", "a PNG image");
body_kind!(/// A CSV file.
    Csv, "text/csv", "a CSV file (UTF-8 with BOM, for spreadsheet programs)");
body_kind!(/// A PDF document.
    Pdf, "application/pdf", "a PDF document");
body_kind!(/// A confirmation photo.
    Photo, "image/jpeg", "the photo (JPEG, PNG, GIF or WebP, as stored)");
body_kind!(/// Plain text.
    Text, "text/plain", "plain text");
body_kind!(/// An HTML page.
    Page, "text/html", "an HTML page");
body_kind!(/// Stored media bytes (any type, by content address).
    Media, "application/octet-stream", "the stored bytes (Content-Type as stored; Range honoured)");
body_kind!(/// Metrics in OpenMetrics text.
    Metrics, "application/openmetrics-text", "counters and latency histograms, OpenMetrics text (Prometheus scrapes it)");
body_kind!(/// The UI's stylesheet or script.
    StaticFile, "text/css", "the UI's stylesheet (text/css) or script (text/javascript), embedded in the binary");

impl<T: BodyKind> OperationOutput for Documented<T> {
    type Inner = Self;

    fn operation_response(ctx: &mut GenContext, _operation: &mut Operation) -> Option<ApiResponse> {
        let schema = T::schema(ctx).unwrap_or_else(
            || schemars::json_schema!({"type": "string", "contentMediaType": T::CONTENT_TYPE}),
        );
        Some(ApiResponse {
            description: T::DESCRIPTION.to_owned(),
            content: IndexMap::from_iter([(
                T::CONTENT_TYPE.to_owned(),
                MediaType {
                    schema: Some(SchemaObject {
                        json_schema: schema,
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, ApiResponse)> {
        match Self::operation_response(ctx, operation) {
            Some(response) => vec![(Some(200), response)],
            None => Vec::new(),
        }
    }
}

/// 204 No Content with headers the handler set (a cleared cookie).
pub struct NoContentWith(pub Response);

impl IntoResponse for NoContentWith {
    fn into_response(self) -> Response {
        self.0
    }
}

impl OperationOutput for NoContentWith {
    type Inner = Self;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<ApiResponse> {
        <axum::response::NoContent as OperationOutput>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, ApiResponse)> {
        <axum::response::NoContent as OperationOutput>::inferred_responses(ctx, operation)
    }
}

/// Documents a request body that is not JSON (a zip, a PNG) for a route
/// whose handler reads the raw bytes.
pub fn raw_body<'t>(
    mut op: aide::transform::TransformOperation<'t>,
    content_type: &str,
    description: &str,
) -> aide::transform::TransformOperation<'t> {
    let operation = op.inner_mut();
    operation.request_body = Some(ReferenceOr::Item(aide::openapi::RequestBody {
        description: Some(description.to_owned()),
        content: IndexMap::from_iter([(
            content_type.to_owned(),
            MediaType {
                schema: Some(SchemaObject {
                    json_schema: schemars::json_schema!({"type": "string", "contentMediaType": content_type}),
                    example: None,
                    external_docs: None,
                }),
                ..Default::default()
            },
        )]),
        required: true,
        extensions: IndexMap::default(),
    }));
    op
}
