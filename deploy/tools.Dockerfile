# The seed's `mids` container: the command-line tools to drive the stack from inside its
# network. `ab` (Apache Bench) sends traffic to http://api:5000, `kcat` reads the topic
# (kcat -b kafka:9092 -t events -C), curl for anything else.
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends apache2-utils kcat curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
