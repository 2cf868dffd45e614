"""Process supervision: what each long-running `chronicle` command runs in its process.

`up` (servers, workers and the API in one), `serve` (the API under uvicorn, one process
or several sharing the port), the workers beside the API, and the task worker.
"""
