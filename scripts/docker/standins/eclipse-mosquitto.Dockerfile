# CI stand-in for eclipse-mosquitto:2, for `npm run test:docker` where no image registry is reachable:
# Debian's mosquitto (and its clients, which the official image has too) on the local debian:bookworm-slim stand-in, with the official image's layout
# (/mosquitto/{config,data,log}, /mosquitto-no-auth.conf). Not for production use.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto mosquitto-clients \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /mosquitto/config /mosquitto/data /mosquitto/log \
 && printf 'listener 1883\nallow_anonymous true\n' > /mosquitto-no-auth.conf \
 && printf 'persistence true\npersistence_location /mosquitto/data/\n' > /mosquitto/config/mosquitto.conf \
 && chown -R mosquitto:mosquitto /mosquitto
EXPOSE 1883
CMD ["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
