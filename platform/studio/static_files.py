"""WhiteNoise (the console's assets and Django's static files), able to sit in an async
middleware chain.

WhiteNoise's middleware is synchronous only, and one such middleware makes Django run every
request's whole chain through threads under ASGI. Finding a file is a dictionary lookup (a
stat in DEBUG's autorefresh mode) and serving it builds a response, so the async form does
the same work on the loop; everything that is not a static file goes on without a thread.
"""

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None) -> None:
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
