"""What the local fakes of external services share: a threading HTTP server
that logs a client hanging up in one line, and the start-up protocol (the
port on stdout once listening)."""

import sys
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    """Clients that hang up (a killed fetcher, a timed-out request) are part
    of the tests: one line for them; a traceback only for a bug in the fake."""

    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            print(f"{self.name}: client {client_address[1]} went away ({type(err).__name__})",
                  file=sys.stderr)
        else:
            super().handle_error(request, client_address)


def serve(name, handler, port):
    """Listens on 127.0.0.1:port (0: any), prints the port, serves until killed."""
    srv = Server(("127.0.0.1", port), handler)
    srv.name = name
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
