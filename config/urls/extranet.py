from config.urls import surfaces

urlpatterns = surfaces.common + surfaces.extranet

handler404 = "api.problems.not_found"
handler500 = "api.problems.server_error"
