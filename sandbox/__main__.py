from sandbox.config import from_args
from sandbox.server import serve_forever

if __name__ == "__main__":
    serve_forever(from_args())
