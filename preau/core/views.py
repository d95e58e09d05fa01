from django.http import HttpResponse


def home(request):
    return HttpResponse("placeholder")


def audit_log(request):
    return HttpResponse("placeholder")


def job_detail(request, job_id):
    return HttpResponse("placeholder")
