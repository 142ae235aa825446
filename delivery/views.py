"""``POST /sns/feedback/``: where SNS posts the engine's own feedback (docs/decisions/0011).

Outside the API: SNS authenticates by signature, not token, and posts ``text/plain`` JSON.
"""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from delivery.sns_feedback import FeedbackRejected, feedback_receive

# SNS messages are at most 256 KiB; a bigger body is not one.
MAX_BODY_BYTES = 256 * 1024 + 4096


@csrf_exempt
@require_POST
def sns_feedback(request: HttpRequest) -> HttpResponse:
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
        return HttpResponse("refused: the body is too large\n", status=413, content_type="text/plain")
    try:
        with transaction.atomic():
            done = feedback_receive(body=request.body, message_type=request.headers.get("x-amz-sns-message-type"))
    except FeedbackRejected as exc:
        return HttpResponse(f"refused: {exc}\n", status=403, content_type="text/plain")
    return HttpResponse(f"ok: {done}\n", content_type="text/plain")
